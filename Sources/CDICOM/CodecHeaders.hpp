// What a frame's own codestream says about the image it decodes to, read from its header without decoding: checked
// against Rows, Columns, Samples per Pixel and Bits Allocated before any codec allocates for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hil {

struct CodestreamShape {
    uint32_t width = 0;
    uint32_t height = 0;    // 0 for a JPEG whose height comes later (DNL marker)
    uint32_t components = 0;
    uint32_t precision = 0; // bits per sample (the largest of the components)
};

/// JPEG (ITU T.81 SOFn) or JPEG-LS (ISO 14495-1 SOF55): the first frame header. False + `why` when there is none.
bool jpegShape(const uint8_t *data, size_t size, CodestreamShape &shape, std::string &why);

/// JPEG 2000 / HTJ2K codestream (ISO 15444-1 SIZ marker), or a JP2/JPH file holding one (its jp2c box).
bool j2kShape(const uint8_t *data, size_t size, CodestreamShape &shape, std::string &why);

/// RLE Lossless (PS3.5 §G.3.1): the header's segment count must be `segments` and its offsets inside the frame;
/// each segment decodes to `pixels` bytes and one RLE byte pair expands to at most 128 bytes, so `frameBytes` of
/// compressed data cannot honestly decode to more than 64 × frameBytes.
bool rleCheck(const uint8_t *data, size_t size, uint64_t frameBytes, uint32_t segments, uint64_t pixels, std::string &why);

}  // namespace hil
