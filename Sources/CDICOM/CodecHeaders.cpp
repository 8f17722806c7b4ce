// See CodecHeaders.hpp.
#include "CodecHeaders.hpp"

#include <cstring>

namespace hil {

namespace {
uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
}  // namespace

bool jpegShape(const uint8_t *data, size_t size, CodestreamShape &shape, std::string &why) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) { why = "the frame does not start with a JPEG SOI marker"; return false; }
    size_t at = 2;
    while (at + 4 <= size) {
        if (data[at] != 0xFF) { why = "the JPEG header is corrupt before its frame header"; return false; }
        uint8_t marker = data[at + 1];
        if (marker == 0xFF) { at++; continue; }  // fill byte
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) { at += 2; continue; }  // no length
        if (marker == 0xD9 || marker == 0xDA) break;  // EOI or SOS before any frame header
        const uint16_t length = be16(data + at + 2);
        if (length < 2 || at + 2 + length > size) { why = "a JPEG marker segment runs past the end of the frame"; return false; }
        const bool sof = (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) ||
                         marker == 0xF7;  // SOF55: JPEG-LS
        if (sof) {
            if (length < 8) { why = "the JPEG frame header is too short"; return false; }
            const uint8_t *p = data + at + 4;
            shape.precision = p[0];
            shape.height = be16(p + 1);
            shape.width = be16(p + 3);
            shape.components = p[5];
            return true;
        }
        at += 2 + length;
    }
    why = "the JPEG stream has no frame header";
    return false;
}

bool j2kShape(const uint8_t *data, size_t size, CodestreamShape &shape, std::string &why) {
    const uint8_t *cs = data;
    size_t csSize = size;
    if (size >= 12 && std::memcmp(data + 4, "jP  ", 4) == 0) {
        // JP2 / JPH boxes (ISO 15444-1 §I.4): LBox, TBox, [XLBox]; the codestream is the jp2c box's contents.
        size_t at = 0;
        cs = nullptr;
        while (at + 8 <= size) {
            uint64_t length = be32(data + at);
            size_t header = 8;
            if (length == 1) {
                if (at + 16 > size) break;
                length = (uint64_t)be32(data + at + 8) << 32 | be32(data + at + 12);
                header = 16;
            } else if (length == 0) {
                length = size - at;
            }
            if (length < header || length > size - at) break;
            if (std::memcmp(data + at + 4, "jp2c", 4) == 0) {
                cs = data + at + header;
                csSize = (size_t)length - header;
                break;
            }
            at += (size_t)length;
        }
        if (!cs) { why = "the JP2 file holds no codestream box"; return false; }
    }
    // SOC, then SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz {Ssiz XRsiz YRsiz}
    if (csSize < 4 + 38 || be16(cs) != 0xFF4F || be16(cs + 2) != 0xFF51) {
        why = "the frame is not a JPEG 2000 codestream (no SOC and SIZ markers)";
        return false;
    }
    const uint8_t *siz = cs + 4;
    const uint16_t lsiz = be16(siz);
    const uint32_t xsiz = be32(siz + 4), ysiz = be32(siz + 8), xosiz = be32(siz + 12), yosiz = be32(siz + 16);
    const uint32_t xtsiz = be32(siz + 20), ytsiz = be32(siz + 24), xtosiz = be32(siz + 28), ytosiz = be32(siz + 32);
    const uint16_t csiz = be16(siz + 36);
    if (xosiz >= xsiz || yosiz >= ysiz || xtsiz == 0 || ytsiz == 0 || xtosiz > xosiz || ytosiz > yosiz || csiz == 0 ||
        lsiz < 38 + 3 * (uint32_t)csiz || 4 + (size_t)lsiz > csSize) {
        why = "the JPEG 2000 SIZ marker is inconsistent";
        return false;
    }
    // ISO 15444-1 Table A.10: at most 65535 tiles.
    const uint64_t tilesX = ((uint64_t)xsiz - xtosiz + xtsiz - 1) / xtsiz, tilesY = ((uint64_t)ysiz - ytosiz + ytsiz - 1) / ytsiz;
    if (tilesX * tilesY > 65535) { why = "the JPEG 2000 codestream declares more than 65535 tiles"; return false; }
    shape.width = xsiz - xosiz;
    shape.height = ysiz - yosiz;
    shape.components = csiz;
    shape.precision = 0;
    for (uint16_t c = 0; c < csiz; c++) {
        const uint8_t *component = siz + 38 + 3 * c;
        const uint32_t precision = (uint32_t)(component[0] & 0x7F) + 1;
        if (precision > shape.precision) shape.precision = precision;
        if (component[1] == 0 || component[2] == 0) { why = "the JPEG 2000 SIZ marker has a zero subsampling"; return false; }
    }
    return true;
}

bool rleCheck(const uint8_t *data, size_t size, uint64_t frameBytes, uint32_t segments, uint64_t pixels, std::string &why) {
    if (size < 64) { why = "the RLE frame is shorter than its 64-byte header"; return false; }
    const uint32_t count = le32(data);
    if (count != segments) {
        why = "the RLE header has " + std::to_string(count) + " segments; Samples per Pixel × bytes per sample make " +
              std::to_string(segments);
        return false;
    }
    uint32_t previous = 64;
    for (uint32_t i = 0; i < count; i++) {
        const uint32_t offset = le32(data + 4 + 4 * i);
        if (offset < previous || offset >= frameBytes) { why = "an RLE segment offset points outside the frame"; return false; }
        previous = offset;
    }
    if (pixels * segments > frameBytes * 64) {
        why = "the RLE frame holds " + std::to_string(frameBytes) + " bytes, too few to decode to " +
              std::to_string(pixels * segments) + " bytes";
        return false;
    }
    return true;
}

}  // namespace hil
