"""Imagery in: Collection 2 metadata and products, the local reader and scene stack.

Also the Sentinel Hub and STAC sources, which write what they fetch as Collection-2-style
files that the local reader reads.
"""
