package images

import "bytes"

// maxJPEGScans bounds the scans (SOS segments) of a JPEG.
//
// image/jpeg has no limit of its own, and every scan of a progressive
// JPEG walks all the blocks of its component(s), however few bytes it
// has: one 3-byte end-of-band run covers 32767 blocks. A 10 KB file of 800
// such scans cost 0.84 s of CPU, and at max_bytes one image could cost
// about 14 minutes, before admission and uncancellable. Bounding the
// scans bounds the work to that many passes over at most max_pixels.
//
// Real files have far fewer: a baseline JPEG has one scan (or one per
// component), and progressive encoders write about ten: libjpeg's
// standard script, which libjpeg-turbo and mozjpeg start from, has 10 for
// colour and 6 for grey. 100 leaves ten times that for unusual scripts,
// and keeps the worst case near a few ordinary decodes: a grey 4096×4096
// JPEG of 100 scans (36 KB) took 0.9 s to decode on the 2-core test
// machine, the same image in one scan 0.23 s.
const maxJPEGScans = 100

// checkJPEGScans refuses a JPEG with more than maxJPEGScans scans, counted
// from its markers before anything is decoded.
func checkJPEGScans(data []byte, _ Limits) error {
	if jpegScans(data, maxJPEGScans+1) > maxJPEGScans {
		return errorf(CodeInvalidImage, "The JPEG image has more than %d scans; ordinary JPEGs have at most about 10.", maxJPEGScans)
	}
	return nil
}

// jpegScans counts the SOS markers of a JPEG that image/jpeg would
// process, up to limit. It finds markers the way image/jpeg's decode loop
// does, so that no scan it decodes goes uncounted:
//
//   - after SOI, and after each segment, bytes up to the next 0xFF are
//     skipped: image/jpeg ignores such extraneous bytes, and they include
//     a scan's entropy-coded data, which follows the SOS segment and in
//     which an 0xFF byte is stuffed as FF 00 or starts a restart marker
//     (RST0–RST7);
//   - FF 00 and the restart markers have no length and are skipped;
//   - 0xFF fill bytes may come before any marker;
//   - every other marker has a 2-byte big-endian length that counts itself,
//     and image/jpeg reads exactly that many bytes (APPn and COM segments
//     such as EXIF, whose content may hold a thumbnail JPEG with scans of
//     its own, are skipped whole);
//   - EOI ends the image: data after it (a second image, as in MPF files)
//     is never read.
//
// Where image/jpeg would fail (a short or truncated segment) the count
// stops: decoding fails there too.
func jpegScans(data []byte, limit int) int {
	scans := 0
	i := 2 // after SOI, which sniff has seen
	for scans < limit && i < len(data) {
		j := bytes.IndexByte(data[i:], 0xff)
		if j < 0 {
			return scans
		}
		i += j + 1
		if i >= len(data) {
			return scans
		}
		marker := data[i]
		i++
		if marker == 0x00 {
			continue
		}
		for marker == 0xff {
			if i >= len(data) {
				return scans
			}
			marker = data[i]
			i++
		}
		switch {
		case marker == 0xd9: // EOI
			return scans
		case 0xd0 <= marker && marker <= 0xd7: // RSTn
			continue
		}
		if i+2 > len(data) {
			return scans
		}
		n := int(data[i])<<8 | int(data[i+1])
		if n < 2 {
			return scans
		}
		if marker == 0xda { // SOS
			scans++
		}
		i += n
	}
	return scans
}
