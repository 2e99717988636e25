//VERSION=3
// Heatwatch: one Landsat 8/9 Collection 2 Level-2 acquisition (collection landsat-ot-l2).
//
// One FLOAT32 GeoTIFF with five bands, in this order:
//   1. B10      surface temperature in kelvin (the band's default unit on Sentinel Hub),
//   2. BQA      the USGS QA_PIXEL bit field (uint16, exact in float32 since it is < 2^24),
//   3. dataMask 1 where the acquisition has data, 0 outside the scene or where it has none,
//   4. B04      red surface reflectance (the band's default unit, 0-1),
//   5. B05      near-infrared surface reflectance (0-1).
// Heatwatch writes these back as a Collection 2 product (ST_B10 digital numbers with the USGS
// scale, QA_PIXEL, SR_B4 and SR_B5, MTL); see pipeline/io/sentinelhub.py. The red and
// near-infrared give the scan each site's ring greenness (pipeline/science/greenness.py).
// Changing this file changes the request, so cached answers of the old script are not reused.
function setup() {
  return {
    input: [{ bands: ["B10", "BQA", "dataMask", "B04", "B05"] }],
    output: { id: "default", bands: 5, sampleType: "FLOAT32" },
  };
}

function evaluatePixel(sample) {
  return [sample.B10, sample.BQA, sample.dataMask, sample.B04, sample.B05];
}
