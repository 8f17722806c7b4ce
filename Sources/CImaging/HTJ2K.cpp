// HTJ2K encode/decode with OpenJPH (Debian libopenjph-dev 0.9).
#include "Common.hpp"
#include <mutex>
#include <vector>
#include <openjph/ojph_arch.h>
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>

namespace {

// > OJPH_ERROR calls the configured message_error; the default prints to stderr and throws
// > std::runtime_error (ojph_message.cpp). Ours formats the message into the exception instead, and warnings
// > and infos stay silent, so nothing of OpenJPH reaches the emulator's stderr.
class QuietError : public ojph::message_error {
public:
    void operator()(int code, const char *, int, const char *fmt, ...) override {
        char text[512];
        va_list args;
        va_start(args, fmt);
        std::vsnprintf(text, sizeof text, fmt, args);
        va_end(args);
        throw std::runtime_error("OpenJPH error 0x" + std::to_string(code) + ": " + text);
    }
};
class QuietWarning : public ojph::message_warning {
public:
    void operator()(int, const char *, int, const char *, ...) override {}
};
class QuietInfo : public ojph::message_info {
public:
    void operator()(int, const char *, int, const char *, ...) override {}
};

void configureMessages() {
    static std::once_flag once;
    std::call_once(once, [] {
        static QuietError error;
        static QuietWarning warning;
        static QuietInfo info;
        ojph::configure_error(&error);
        ojph::configure_warning(&warning);
        ojph::configure_info(&info);
    });
}

}  // namespace

extern "C" int cim_encode_htj2k(const uint8_t *samples, size_t samples_size, const cim_frame_info *info,
                                const cim_encode_params *params, cim_buffer *out, char *error, size_t error_size) {
    if (!out || !params || !samples) return cim::fail(CIM_E_ARGUMENT, error, error_size, "null argument");
    *out = cim_buffer{nullptr, 0};
    std::string why;
    if (!cim::validInfo(info, samples_size, why)) return cim::fail(CIM_E_ARGUMENT, error, error_size, why);
    configureMessages();
    try {
        ojph::codestream cs;
        ojph::param_siz siz = cs.access_siz();
        siz.set_image_extent(ojph::point(info->width, info->height));
        siz.set_num_components(info->components);
        for (uint32_t c = 0; c < info->components; ++c)
            siz.set_component(c, ojph::point(1, 1), info->precision, info->is_signed != 0);
        siz.set_image_offset(ojph::point(0, 0));
        siz.set_tile_size(ojph::size(info->width, info->height));
        siz.set_tile_offset(ojph::point(0, 0));
        ojph::param_cod cod = cs.access_cod();
        cod.set_num_decomposition(params->decompositions);
        cod.set_block_dims(params->block_width, params->block_height);
        cod.set_progression_order("RPCL");
        cod.set_color_transform(info->components == 3 && params->color_transform != 0);
        cod.set_reversible(true);
        cs.set_planar(false);

        ojph::mem_outfile file;
        file.open(samples_size / 2 + 4096);
        cs.write_headers(&file);
        const uint32_t width = info->width, components = info->components, bytes = info->bytes_per_sample;
        const bool isSigned = info->is_signed != 0;
        ojph::ui32 next = 0;
        ojph::line_buf *line = cs.exchange(nullptr, next);
        for (uint32_t y = 0; y < info->height; ++y) {
            for (uint32_t c = 0; c < components; ++c) {
                // > with planar false, exchange hands the lines out component by component for each row
                cim::readRow(samples, size_t(y) * width * components + next, components, width, bytes, isSigned,
                             line->i32);
                line = cs.exchange(line, next);
            }
        }
        cs.flush();
        if (!cim::giveBuffer(file.get_data(), size_t(file.tell()), out)) {
            cs.close();
            return cim::fail(CIM_E_MEMORY, error, error_size, "out of memory");
        }
        cs.close();
        return CIM_OK;
    } catch (const std::exception &e) {
        return cim::fail(CIM_E_CODEC, error, error_size, e.what());
    }
}

extern "C" int cim_decode_htj2k(const uint8_t *data, size_t size, uint32_t reduce, uint32_t bytes_per_sample,
                                cim_frame_info *info,
                                cim_buffer *out, char *error, size_t error_size) {
    if (!out || !info || !data) return cim::fail(CIM_E_ARGUMENT, error, error_size, "null argument");
    *out = cim_buffer{nullptr, 0};
    configureMessages();
    try {
        ojph::mem_infile file;
        file.open(data, size);
        ojph::codestream cs;
        cs.read_headers(&file);
        ojph::param_siz siz = cs.access_siz();
        ojph::param_cod cod = cs.access_cod();
        if (reduce > cod.get_num_decompositions()) {
            cs.close();
            return cim::fail(CIM_E_ARGUMENT, error, error_size, "reduction beyond the codestream's levels");
        }
        const uint32_t components = siz.get_num_components();
        if (components != 1 && components != 3) {
            cs.close();
            return cim::fail(CIM_E_ARGUMENT, error, error_size, "components must be 1 or 3");
        }
        const uint32_t precision = siz.get_bit_depth(0);
        const bool isSigned = siz.is_signed(0);
        uint32_t bytes = precision <= 8 ? 1 : 2;
        if (bytes_per_sample == 1 || bytes_per_sample == 2) bytes = bytes_per_sample;
        if (precision > 8 * bytes) return cim::fail(CIM_E_ARGUMENT, error, error_size, "precision above the sample size");
        if (precision > 16) {
            cs.close();
            return cim::fail(CIM_E_ARGUMENT, error, error_size, "precision above 16 bits");
        }
        cs.restrict_input_resolution(reduce, reduce);
        cs.set_planar(false);
        cs.create();
        const uint32_t width = siz.get_recon_width(0), height = siz.get_recon_height(0);
        std::vector<uint8_t> pixels(size_t(width) * height * components * bytes);
        for (uint32_t y = 0; y < height; ++y) {
            for (uint32_t c = 0; c < components; ++c) {
                ojph::ui32 comp = 0;
                ojph::line_buf *line = cs.pull(comp);
                size_t base = size_t(y) * width * components + comp;
                for (uint32_t x = 0; x < width; ++x)
                    cim::writeSample(pixels.data(), base + size_t(x) * components, line->i32[x], bytes, precision,
                                     isSigned);
            }
        }
        cs.close();
        *info = cim_frame_info{width, height, components, precision, bytes, isSigned ? 1u : 0u};
        if (!cim::giveBuffer(pixels.data(), pixels.size(), out))
            return cim::fail(CIM_E_MEMORY, error, error_size, "out of memory");
        return CIM_OK;
    } catch (const std::exception &e) {
        return cim::fail(CIM_E_CODEC, error, error_size, e.what());
    }
}

extern "C" void cim_buffer_free(cim_buffer *buffer) {
    if (!buffer) return;
    std::free(buffer->data);
    buffer->data = nullptr;
    buffer->size = 0;
}
