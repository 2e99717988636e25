"""The Landsat Collection 2 product id, parsed once.

``LXSS_LLLL_PPPRRR_YYYYMMDD_yyyymmdd_CC_TX`` (Landsat Collection 2 Level-1 and Level-2 Data
Format Control Books, "Product identifier"): ``X`` sensor (``C`` OLI/TIRS combined, ``O``
OLI-only, ``T`` TIRS-only or TM, ``E`` ETM+, ``M`` MSS), ``SS`` spacecraft, ``LLLL`` processing
level, ``PPPRRR`` WRS-2 path and row, acquisition and processing dates, ``CC`` collection number,
``TX`` collection category (tier ``T1``/``T2`` or real-time ``RT``).

Band 10 (the thermal band Heatwatch reads) exists only in products of the TIRS on Landsat 8
and 9: sensor ``C`` or ``T``, spacecraft ``08`` or ``09`` (:attr:`ProductId.has_band10`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

#: The one pattern of a Collection 2 product id (unanchored, so file-name patterns can embed it).
PATTERN = (r"L(?P<sensor>[COTEM])(?P<spacecraft>\d{2})_(?P<level>L1TP|L1GT|L1GS|L2SP|L2SR)_"
           r"(?P<path>\d{3})(?P<row>\d{3})_(?P<acquired>\d{8})_(?P<processed>\d{8})_"
           r"(?P<collection>\d{2})_(?P<tier>T1|T2|RT)")
_FULL = re.compile(rf"^{PATTERN}$")
LENGTH = 40


@dataclass(frozen=True)
class ProductId:
    """One Landsat Collection 2 product id.

    Examples
    --------
    >>> p = ProductId.parse("LC09_L1TP_063046_20230714_20230714_02_T1")
    >>> p.spacecraft, p.level, p.wrs_path, p.wrs_row, p.acquired.isoformat(), p.tier
    (9, 'L1TP', 63, 46, '2023-07-14', 'T1')
    >>> p.has_band10, ProductId.parse("LO08_L1TP_063046_20150714_20200908_02_T1").has_band10
    (True, False)
    >>> str(p)
    'LC09_L1TP_063046_20230714_20230714_02_T1'
    """

    sensor: str
    spacecraft: int
    level: str
    wrs_path: int
    wrs_row: int
    acquired: date
    processed: date
    collection: int
    tier: str

    @classmethod
    def match(cls, text: str) -> ProductId | None:
        """Return the parsed id, or None if ``text`` is not exactly a Collection 2 product id."""
        m = _FULL.match(text)
        if m is None:
            return None
        try:
            acquired, processed = (datetime.strptime(m[k], "%Y%m%d").date()
                                   for k in ("acquired", "processed"))
        except ValueError:
            return None
        return cls(m["sensor"], int(m["spacecraft"]), m["level"], int(m["path"]), int(m["row"]),
                   acquired, processed, int(m["collection"]), m["tier"])

    @classmethod
    def parse(cls, text: str) -> ProductId:
        """Return the parsed id; raise ValueError if ``text`` is not one."""
        pid = cls.match(text)
        if pid is None:
            raise ValueError(f"{text!r} is not a Landsat Collection 2 product id "
                             "(LXSS_LLLL_PPPRRR_YYYYMMDD_yyyymmdd_CC_TX)")
        return pid

    @classmethod
    def of_file(cls, name: str) -> ProductId | None:
        """Return the id a USGS file name starts with (``<id>_ST_B10.TIF``, ``<id>_MTL.json``)."""
        if name[LENGTH:LENGTH + 1] not in ("_", "."):
            return None
        return cls.match(name[:LENGTH])

    @property
    def has_band10(self) -> bool:
        """True if the product can hold TIRS band 10: Landsat 8/9, OLI/TIRS or TIRS-only."""
        return self.sensor in ("C", "T") and self.spacecraft in (8, 9)

    def __str__(self) -> str:
        return (f"L{self.sensor}{self.spacecraft:02d}_{self.level}_{self.wrs_path:03d}"
                f"{self.wrs_row:03d}_{self.acquired:%Y%m%d}_{self.processed:%Y%m%d}_"
                f"{self.collection:02d}_{self.tier}")
