// JPEG 2000 encode and JPEG 2000 / HTJ2K / JP2 / JPH decode with OpenJPEG (Debian libopenjp2-7-dev 2.5).
#include "Common.hpp"
#include <algorithm>
#include <vector>
#include <openjpeg-2.5/openjpeg.h>

namespace {

/// A growable output or a fixed input, behind OpenJPEG's stream callbacks.
struct Memory {
    std::vector<uint8_t> bytes;       // output
    const uint8_t *input = nullptr;   // input
    size_t size = 0;
    size_t position = 0;
};

OPJ_SIZE_T readFn(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *m = static_cast<Memory *>(user);
    if (m->position >= m->size) return OPJ_SIZE_T(-1);  // > return (OPJ_SIZE_T)-1 at end of stream
    OPJ_SIZE_T n = std::min<OPJ_SIZE_T>(count, m->size - m->position);
    std::memcpy(buffer, m->input + m->position, n);
    m->position += n;
    return n;
}
OPJ_SIZE_T writeFn(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *m = static_cast<Memory *>(user);
    const uint8_t *p = static_cast<const uint8_t *>(buffer);
    if (m->position + count > m->bytes.size()) m->bytes.resize(m->position + count);
    std::memcpy(m->bytes.data() + m->position, p, count);
    m->position += count;
    return count;
}
OPJ_OFF_T skipFn(OPJ_OFF_T count, void *user) {
    auto *m = static_cast<Memory *>(user);
    if (m->input) {
        OPJ_OFF_T room = OPJ_OFF_T(m->size) - OPJ_OFF_T(m->position);
        if (count > room) count = room;
    }
    if (OPJ_OFF_T(m->position) + count < 0) return -1;
    m->position = size_t(OPJ_OFF_T(m->position) + count);
    if (!m->input && m->position > m->bytes.size()) m->bytes.resize(m->position);
    return count;
}
OPJ_BOOL seekFn(OPJ_OFF_T offset, void *user) {
    auto *m = static_cast<Memory *>(user);
    if (offset < 0 || (m->input && size_t(offset) > m->size)) return OPJ_FALSE;
    m->position = size_t(offset);
    if (!m->input && m->position > m->bytes.size()) m->bytes.resize(m->position);
    return OPJ_TRUE;
}

/// OpenJPEG reports through callbacks: keep the last error, drop warnings and infos.
void errorFn(const char *message, void *user) {
    auto *text = static_cast<std::string *>(user);
    *text = message ? message : "";
    while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
}
void quietFn(const char *, void *) {}

opj_stream_t *makeStream(Memory &memory, bool input) {
    opj_stream_t *stream = opj_stream_create(1 << 16, input ? OPJ_TRUE : OPJ_FALSE);
    if (!stream) return nullptr;
    opj_stream_set_user_data(stream, &memory, nullptr);
    if (input) {
        opj_stream_set_user_data_length(stream, memory.size);
        opj_stream_set_read_function(stream, readFn);
    } else {
        opj_stream_set_write_function(stream, writeFn);
    }
    opj_stream_set_skip_function(stream, skipFn);
    opj_stream_set_seek_function(stream, seekFn);
    return stream;
}

struct Cleanup {
    opj_codec_t *codec = nullptr;
    opj_stream_t *stream = nullptr;
    opj_image_t *image = nullptr;
    ~Cleanup() {
        if (stream) opj_stream_destroy(stream);
        if (codec) opj_destroy_codec(codec);
        if (image) opj_image_destroy(image);
    }
};

}  // namespace

extern "C" int cim_encode_j2k(const uint8_t *samples, size_t samples_size, const cim_frame_info *info,
                              const cim_encode_params *params, cim_buffer *out, char *error, size_t error_size) {
    if (!out || !params || !samples) return cim::fail(CIM_E_ARGUMENT, error, error_size, "null argument");
    *out = cim_buffer{nullptr, 0};
    std::string why;
    if (!cim::validInfo(info, samples_size, why)) return cim::fail(CIM_E_ARGUMENT, error, error_size, why);
    const uint32_t components = info->components, width = info->width, height = info->height;
    const bool isSigned = info->is_signed != 0;

    opj_image_cmptparm_t parts[3];
    std::memset(parts, 0, sizeof parts);
    for (uint32_t c = 0; c < components; ++c) {
        parts[c].dx = 1;
        parts[c].dy = 1;
        parts[c].w = width;
        parts[c].h = height;
        parts[c].prec = info->precision;
        parts[c].sgnd = isSigned ? 1 : 0;
    }
    Cleanup held;
    held.image = opj_image_create(components, parts, components == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
    if (!held.image) return cim::fail(CIM_E_MEMORY, error, error_size, "opj_image_create failed");
    held.image->x0 = 0;
    held.image->y0 = 0;
    held.image->x1 = width;
    held.image->y1 = height;
    const size_t pixels = size_t(width) * height;
    for (uint32_t c = 0; c < components; ++c) {
        OPJ_INT32 *dst = held.image->comps[c].data;
        for (size_t i = 0; i < pixels; ++i)
            dst[i] = cim::readSample(samples, i * components + c, info->bytes_per_sample, isSigned);
    }

    opj_cparameters_t cp;
    opj_set_default_encoder_parameters(&cp);
    cp.irreversible = 0;                    // reversible 5/3 wavelet
    cp.numresolution = int(params->decompositions) + 1;
    cp.cblockw_init = int(params->block_width);
    cp.cblockh_init = int(params->block_height);
    cp.prog_order = OPJ_RPCL;
    cp.tcp_numlayers = 1;
    cp.tcp_rates[0] = 0;                    // > 0: lossless
    cp.cp_disto_alloc = 1;
    cp.tcp_mct = (components == 3 && params->color_transform) ? 1 : 0;

    std::string message;
    held.codec = opj_create_compress(OPJ_CODEC_J2K);
    if (!held.codec) return cim::fail(CIM_E_CODEC, error, error_size, "opj_create_compress failed");
    opj_set_error_handler(held.codec, errorFn, &message);
    opj_set_warning_handler(held.codec, quietFn, nullptr);
    opj_set_info_handler(held.codec, quietFn, nullptr);
    if (!opj_setup_encoder(held.codec, &cp, held.image))
        return cim::fail(CIM_E_CODEC, error, error_size, "opj_setup_encoder: " + message);
    Memory memory;
    memory.bytes.reserve(samples_size / 2 + 4096);
    held.stream = makeStream(memory, false);
    if (!held.stream) return cim::fail(CIM_E_MEMORY, error, error_size, "opj_stream_create failed");
    if (!opj_start_compress(held.codec, held.image, held.stream) || !opj_encode(held.codec, held.stream)
        || !opj_end_compress(held.codec, held.stream))
        return cim::fail(CIM_E_CODEC, error, error_size, "OpenJPEG encode: " + message);
    opj_stream_destroy(held.stream);  // flushes the last bytes into memory
    held.stream = nullptr;
    if (!cim::giveBuffer(memory.bytes.data(), memory.bytes.size(), out))
        return cim::fail(CIM_E_MEMORY, error, error_size, "out of memory");
    return CIM_OK;
}

extern "C" int cim_decode_openjpeg(const uint8_t *data, size_t size, uint32_t reduce, uint32_t bytes_per_sample,
                                cim_frame_info *info,
                                   cim_buffer *out, char *error, size_t error_size) {
    if (!out || !info || !data) return cim::fail(CIM_E_ARGUMENT, error, error_size, "null argument");
    *out = cim_buffer{nullptr, 0};
    if (size < 12) return cim::fail(CIM_E_ARGUMENT, error, error_size, "too short for a codestream");
    // A JP2-family file starts with the 12-byte signature box (length 12, type 'jP  ').
    const bool boxed = std::memcmp(data, "\x00\x00\x00\x0C\x6A\x50\x20\x20", 8) == 0;
    Cleanup held;
    std::string message;
    held.codec = opj_create_decompress(boxed ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    if (!held.codec) return cim::fail(CIM_E_CODEC, error, error_size, "opj_create_decompress failed");
    opj_set_error_handler(held.codec, errorFn, &message);
    opj_set_warning_handler(held.codec, quietFn, nullptr);
    opj_set_info_handler(held.codec, quietFn, nullptr);
    opj_dparameters_t dp;
    opj_set_default_decoder_parameters(&dp);
    if (!opj_setup_decoder(held.codec, &dp))
        return cim::fail(CIM_E_CODEC, error, error_size, "opj_setup_decoder: " + message);
    Memory memory;
    memory.input = data;
    memory.size = size;
    held.stream = makeStream(memory, true);
    if (!held.stream) return cim::fail(CIM_E_MEMORY, error, error_size, "opj_stream_create failed");
    if (!opj_read_header(held.stream, held.codec, &held.image))
        return cim::fail(CIM_E_CODEC, error, error_size, "opj_read_header: " + message);
    if (!opj_set_decoded_resolution_factor(held.codec, reduce))
        return cim::fail(CIM_E_ARGUMENT, error, error_size, "opj_set_decoded_resolution_factor: " + message);
    if (!opj_decode(held.codec, held.stream, held.image) || !opj_end_decompress(held.codec, held.stream))
        return cim::fail(CIM_E_CODEC, error, error_size, "opj_decode: " + message);
    opj_image_t *image = held.image;
    const uint32_t components = image->numcomps;
    if (components != 1 && components != 3)
        return cim::fail(CIM_E_ARGUMENT, error, error_size, "components must be 1 or 3");
    const uint32_t width = image->comps[0].w, height = image->comps[0].h;
    const uint32_t precision = image->comps[0].prec;
    const bool isSigned = image->comps[0].sgnd != 0;
    if (precision < 1 || precision > 16) return cim::fail(CIM_E_ARGUMENT, error, error_size, "precision above 16 bits");
    for (uint32_t c = 1; c < components; ++c)
        if (image->comps[c].w != width || image->comps[c].h != height)
            return cim::fail(CIM_E_ARGUMENT, error, error_size, "subsampled components");
    uint32_t bytes = precision <= 8 ? 1 : 2;
        if (bytes_per_sample == 1 || bytes_per_sample == 2) bytes = bytes_per_sample;
        if (precision > 8 * bytes) return cim::fail(CIM_E_ARGUMENT, error, error_size, "precision above the sample size");
    std::vector<uint8_t> pixels(size_t(width) * height * components * bytes);
    const size_t count = size_t(width) * height;
    for (uint32_t c = 0; c < components; ++c) {
        const OPJ_INT32 *src = image->comps[c].data;
        for (size_t i = 0; i < count; ++i)
            cim::writeSample(pixels.data(), i * components + c, src[i], bytes, precision, isSigned);
    }
    *info = cim_frame_info{width, height, components, precision, bytes, isSigned ? 1u : 0u};
    if (!cim::giveBuffer(pixels.data(), pixels.size(), out))
        return cim::fail(CIM_E_MEMORY, error, error_size, "out of memory");
    return CIM_OK;
}
