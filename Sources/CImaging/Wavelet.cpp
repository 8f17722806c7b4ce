// The reduced resolutions of a one-component frame under the reversible 5/3 wavelet, computed from its samples
// (ISO/IEC 15444-1 Annex F: 2D_SD = VER_SD then HOR_SD, 1D_SD lifting with symmetric extension, even origin).
#include "Common.hpp"
#include <algorithm>
#include <vector>

namespace {

/// 1D_SD of the reversible 5/3 on `n` values `x[0]`, `x[stride]`, …: the ceil(n/2) low-pass values into `low`,
/// with `high` (floor(n/2) entries) as scratch. F.3.8.2 / F.4.8.2: predict d[k] = x[2k+1] - floor((x[2k] +
/// x[2k+2]) / 2), update s[k] = x[2k] + floor((d[k-1] + d[k] + 2) / 4), the signal extended symmetrically at
/// both ends (x[n] = x[n-2], d[-1] = d[0], and d past the end mirrors the last one). One value stays as it is.
void lowpass(const int32_t *x, size_t stride, uint32_t n, int32_t *low, int32_t *high) {
    if (n == 1) {
        low[0] = x[0];
        return;
    }
    const uint32_t highCount = n / 2, lowCount = (n + 1) / 2;
    for (uint32_t k = 0; k < highCount; ++k) {
        const int32_t left = x[size_t(2 * k) * stride];
        const int32_t right = 2 * k + 2 < n ? x[size_t(2 * k + 2) * stride] : left;
        high[k] = x[size_t(2 * k + 1) * stride] - ((left + right) >> 1);
    }
    for (uint32_t k = 0; k < lowCount; ++k) {
        const int32_t before = k > 0 ? high[k - 1] : high[0];
        const int32_t after = k < highCount ? high[k] : high[highCount - 1];
        low[k] = x[size_t(2 * k) * stride] + ((before + after + 2) >> 2);
    }
}

/// One level of the 2D analysis on the top-left `w`×`h` of a plane whose rows are `stride` apart, keeping only the
/// LL band, which it leaves in the top-left ceil(w/2)×ceil(h/2). VER_SD a whole row at a time (the lifting of
/// `lowpass`, vectorizable): the high-pass rows into `highRows`, then the low-pass rows written over rows 0, 1, …
/// (low row k reads row 2k, not yet overwritten); then HOR_SD of the low rows only (the high-pass rows do not reach
/// the LL band).
void analyseLevel(int32_t *a, size_t stride, uint32_t w, uint32_t h, std::vector<int32_t> &highRows,
                  std::vector<int32_t> &row, std::vector<int32_t> &high) {
    const uint32_t lowRows = (h + 1) / 2, lowColumns = (w + 1) / 2, highCount = h / 2;
    for (uint32_t k = 0; k < highCount; ++k) {
        const int32_t *left = a + size_t(2 * k) * stride, *middle = left + stride;
        const int32_t *right = 2 * k + 2 < h ? middle + stride : left;
        int32_t *d = highRows.data() + size_t(k) * w;
        for (uint32_t x = 0; x < w; ++x) d[x] = middle[x] - ((left[x] + right[x]) >> 1);
    }
    if (highCount > 0) {
        for (uint32_t k = 0; k < lowRows; ++k) {
            const int32_t *before = highRows.data() + size_t(k > 0 ? k - 1 : 0) * w;
            const int32_t *after = highRows.data() + size_t(k < highCount ? k : highCount - 1) * w;
            const int32_t *even = a + size_t(2 * k) * stride;
            int32_t *low = a + size_t(k) * stride;
            for (uint32_t x = 0; x < w; ++x) low[x] = even[x] + ((before[x] + after[x] + 2) >> 2);
        }
    }
    for (uint32_t y = 0; y < lowRows; ++y) {
        int32_t *line = a + size_t(y) * stride;
        lowpass(line, 1, w, row.data(), high.data());
        std::memcpy(line, row.data(), size_t(lowColumns) * sizeof(int32_t));
    }
}

}  // namespace

extern "C" int cim_reduced_resolutions(const uint8_t *samples, size_t samples_size, const cim_frame_info *info,
                                       uint32_t levels, cim_buffer *out, char *error, size_t error_size) {
    if (!out || !samples) return cim::fail(CIM_E_ARGUMENT, error, error_size, "null argument");
    *out = cim_buffer{nullptr, 0};
    std::string why;
    if (!cim::validInfo(info, samples_size, why)) return cim::fail(CIM_E_ARGUMENT, error, error_size, why);
    try {
        const uint32_t stride = info->width, bytes = info->bytes_per_sample, components = info->components;
        const bool isSigned = info->is_signed != 0;
        const size_t planeSize = size_t(info->width) * info->height;
        std::vector<int32_t> planes(planeSize * components);
        for (uint32_t c = 0; c < components; ++c)
            for (uint32_t y = 0; y < info->height; ++y)
                cim::readRow(samples, size_t(y) * stride * components + c, components, info->width, bytes, isSigned,
                             planes.data() + c * planeSize + size_t(y) * stride);
        int32_t *p0 = planes.data(), *p1 = p0 + planeSize, *p2 = p1 + planeSize;
        if (components == 3) {
            // G.2 RCT, forward (both encoders apply it to three components): Y0 = floor((R + 2G + B) / 4),
            // Y1 = B - G, Y2 = R - G. The DC level shift cancels out of it as it does of the low-pass.
            for (size_t i = 0; i < planeSize; ++i) {
                const int32_t r = p0[i], g = p1[i], b = p2[i];
                p0[i] = (r + 2 * g + b) >> 2;
                p1[i] = b - g;
                p2[i] = r - g;
            }
        }
        size_t total = 0;
        {
            uint32_t w = info->width, h = info->height;
            for (uint32_t level = 0; level < levels; ++level) {
                w = (w + 1) / 2;
                h = (h + 1) / 2;
                total += size_t(w) * h * components * bytes;
            }
        }
        std::vector<uint8_t> result(total);
        size_t written = 0;
        std::vector<int32_t> high(size_t(info->width)), row(size_t(info->width));
        std::vector<int32_t> highRows(size_t(info->width) * (info->height / 2));
        uint32_t w = info->width, h = info->height;
        for (uint32_t level = 0; level < levels; ++level) {
            for (uint32_t c = 0; c < components; ++c)
                analyseLevel(planes.data() + c * planeSize, stride, w, h, highRows, row, high);
            w = (w + 1) / 2;
            h = (h + 1) / 2;
            // What a decoder writes: the band's values (inverse RCT for colour), clamped, colour interleaved.
            uint8_t *level_out = result.data() + written;
            for (uint32_t y = 0; y < h; ++y) {
                for (uint32_t x = 0; x < w; ++x) {
                    const size_t at = size_t(y) * stride + x, pixel = size_t(y) * w + x;
                    if (components == 3) {
                        const int32_t g = p0[at] - ((p2[at] + p1[at]) >> 2);
                        cim::writeSample(level_out, pixel * 3, p2[at] + g, bytes, info->precision, isSigned);
                        cim::writeSample(level_out, pixel * 3 + 1, g, bytes, info->precision, isSigned);
                        cim::writeSample(level_out, pixel * 3 + 2, p1[at] + g, bytes, info->precision, isSigned);
                    } else {
                        cim::writeSample(level_out, pixel, p0[at], bytes, info->precision, isSigned);
                    }
                }
            }
            written += size_t(w) * h * components * bytes;
        }
        if (!cim::giveBuffer(result.data(), result.size(), out))
            return cim::fail(CIM_E_MEMORY, error, error_size, "out of memory");
        return CIM_OK;
    } catch (const std::exception &e) {
        return cim::fail(CIM_E_MEMORY, error, error_size, e.what());
    }
}
