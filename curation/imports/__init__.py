"""Title import: reading cluster folders or zips safely, decoding images, detecting faces."""
