//VERSION=3
// Heatwatch: one Landsat 8/9 Collection 2 Level-1 acquisition (collection landsat-ot-l1).
//
// One FLOAT32 GeoTIFF with three bands, in this order:
//   1. B10      top-of-atmosphere brightness temperature in kelvin (the band's default unit on
//               Sentinel Hub for Level-1 thermal bands),
//   2. BQA      the USGS QA_PIXEL bit field (uint16, exact in float32 since it is < 2^24),
//   3. dataMask 1 where the acquisition has data, 0 outside the scene or where it has none.
// Heatwatch turns the brightness temperature back into band 10 counts with the published
// TIRS/TIRS-2 constants and writes a Level-1 product; see pipeline/sentinelhub_source.py.
function setup() {
  return {
    input: [{ bands: ["B10", "BQA", "dataMask"] }],
    output: { id: "default", bands: 3, sampleType: "FLOAT32" },
  };
}

function evaluatePixel(sample) {
  return [sample.B10, sample.BQA, sample.dataMask];
}
