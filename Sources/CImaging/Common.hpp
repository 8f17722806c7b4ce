// Shared helpers of the CImaging shim (internal; not part of the C header).
#pragma once
#include "CImaging.h"
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cim {

inline int fail(int code, char *error, size_t error_size, const std::string &message) {
    if (error && error_size > 0) std::snprintf(error, error_size, "%s", message.c_str());
    return code;
}

inline bool validInfo(const cim_frame_info *info, size_t samples_size, std::string &why) {
    if (!info) { why = "no frame info"; return false; }
    if (info->width == 0 || info->height == 0) { why = "empty frame"; return false; }
    if (info->components != 1 && info->components != 3) { why = "components must be 1 or 3"; return false; }
    if (info->bytes_per_sample != 1 && info->bytes_per_sample != 2) { why = "bytes per sample must be 1 or 2"; return false; }
    if (info->precision < 1 || info->precision > 8 * info->bytes_per_sample) { why = "precision out of range"; return false; }
    size_t expected = size_t(info->width) * info->height * info->components * info->bytes_per_sample;
    if (samples_size != expected) {
        why = "sample buffer holds " + std::to_string(samples_size) + " bytes, the geometry needs " + std::to_string(expected);
        return false;
    }
    return true;
}

/// Reads sample `index` of a little-endian buffer as a signed 32-bit value.
inline int32_t readSample(const uint8_t *samples, size_t index, uint32_t bytes, bool isSigned) {
    if (bytes == 1) return isSigned ? int32_t(int8_t(samples[index])) : int32_t(samples[index]);
    uint16_t v = uint16_t(samples[2 * index]) | uint16_t(samples[2 * index + 1]) << 8;
    return isSigned ? int32_t(int16_t(v)) : int32_t(v);
}

/// Reads `count` samples, `stride` apart from sample `first`, into `dst` (one row of one component). The four
/// sample kinds get their own loops, so that the common one-component rows compile to a widening copy.
inline void readRow(const uint8_t *samples, size_t first, size_t stride, uint32_t count, uint32_t bytes, bool isSigned,
                    int32_t *dst) {
    const uint8_t *p = samples + first * bytes;
    const size_t step = stride * bytes;
    if (bytes == 1) {
        if (isSigned) for (uint32_t x = 0; x < count; ++x) dst[x] = int8_t(p[x * step]);
        else for (uint32_t x = 0; x < count; ++x) dst[x] = p[x * step];
    } else if (isSigned) {
        for (uint32_t x = 0; x < count; ++x) dst[x] = int16_t(uint16_t(p[x * step]) | uint16_t(p[x * step + 1]) << 8);
    } else {
        for (uint32_t x = 0; x < count; ++x) dst[x] = uint16_t(p[x * step]) | uint16_t(p[x * step + 1]) << 8;
    }
}

/// Clamps to the component's range and writes sample `index` little-endian.
inline void writeSample(uint8_t *out, size_t index, int32_t value, uint32_t bytes, uint32_t precision, bool isSigned) {
    int32_t lo = isSigned ? -(int32_t(1) << (precision - 1)) : 0;
    int32_t hi = isSigned ? (int32_t(1) << (precision - 1)) - 1 : int32_t((int64_t(1) << precision) - 1);
    if (value < lo) value = lo;
    if (value > hi) value = hi;
    if (bytes == 1) { out[index] = uint8_t(value); return; }
    uint16_t v = uint16_t(value);
    out[2 * index] = uint8_t(v & 0xFF);
    out[2 * index + 1] = uint8_t(v >> 8);
}

inline bool giveBuffer(const void *data, size_t size, cim_buffer *out) {
    out->data = static_cast<uint8_t *>(std::malloc(size ? size : 1));
    if (!out->data) { out->size = 0; return false; }
    if (size) std::memcpy(out->data, data, size);
    out->size = size;
    return true;
}

}  // namespace cim
