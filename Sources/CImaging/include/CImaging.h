#ifndef CIMAGING_H
#define CIMAGING_H
/*
 * CImaging: the emulator's only door to OpenJPH (HTJ2K) and OpenJPEG (JPEG 2000). No codec type crosses it.
 *
 * Samples are always the layout of the metadata checksums: one little-endian integer per sample, 1 byte when
 * bytes_per_sample is 1 and 2 bytes when it is 2, colour samples interleaved (R G B R G B ...), rows top to bottom.
 *
 * Ownership: every cim_buffer a function fills holds memory allocated with malloc by this library; the caller
 * owns it and frees it with cim_buffer_free (free() works too). Inputs are only read, never kept.
 * Errors: functions return 0 on success; otherwise a non-zero CIM_E_* code and a NUL-terminated message in
 * `error` (at most error_size bytes, truncated), and leave `out` empty.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CIM_OK = 0,
    CIM_E_ARGUMENT = 1,  /* unsupported geometry, depth or level count */
    CIM_E_CODEC = 2,     /* the codec refused or failed (message says why) */
    CIM_E_MEMORY = 3,
};

/* Geometry of a raw frame. precision: significant bits per sample (BitsStored), 1...16;
 * bytes_per_sample: 1 (precision <= 8) or 2; components: 1 or 3; is_signed: two's-complement samples. */
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t components;
    uint32_t precision;
    uint32_t bytes_per_sample;
    uint32_t is_signed;
} cim_frame_info;

typedef struct {
    uint8_t *data;  /* malloc'd by CImaging; owned by the caller; NULL when empty */
    size_t size;
} cim_buffer;

/* Reversible lossless parameters shared by both encoders. */
typedef struct {
    uint32_t decompositions;  /* wavelet levels; the frame then has decompositions + 1 resolutions */
    uint32_t block_width;     /* code-block size, powers of two, e.g. 64 x 64 */
    uint32_t block_height;
    uint32_t color_transform; /* 1: reversible colour transform (RCT) for 3-component frames */
} cim_encode_params;

void cim_buffer_free(cim_buffer *buffer);

/* HTJ2K (ISO/IEC 15444-15) codestream with OpenJPH: reversible 5/3, RPCL, one tile. A bare codestream
 * (starts with SOC FF4F); wrapping in JPH boxes is the caller's business. */
int cim_encode_htj2k(const uint8_t *samples, size_t samples_size, const cim_frame_info *info,
                     const cim_encode_params *params, cim_buffer *out, char *error, size_t error_size);

/* JPEG 2000 Part 1 codestream with OpenJPEG: reversible 5/3, RPCL, one tile, one quality layer. */
int cim_encode_j2k(const uint8_t *samples, size_t samples_size, const cim_frame_info *info,
                   const cim_encode_params *params, cim_buffer *out, char *error, size_t error_size);

/* Decodes a bare HTJ2K codestream with OpenJPH, skipping the `reduce` highest resolutions (0 = full size).
 * Fills `info` with the reconstructed geometry and `out` with its samples (the layout above, clamped to the
 * component's precision as a decoder's output array holds them). bytes_per_sample: 1 or 2 to write samples of
 * that size (the frame's BitsAllocated), 0 for the smallest size holding the codestream's precision. */
int cim_decode_htj2k(const uint8_t *data, size_t size, uint32_t reduce, uint32_t bytes_per_sample,
                     cim_frame_info *info, cim_buffer *out, char *error, size_t error_size);

/* Decodes a JPEG 2000 or HTJ2K codestream, or a JP2/JPH file (detected from its first bytes), with OpenJPEG at
 * resolution reduction `reduce`. Same outputs as cim_decode_htj2k. */
int cim_decode_openjpeg(const uint8_t *data, size_t size, uint32_t reduce, uint32_t bytes_per_sample,
                        cim_frame_info *info, cim_buffer *out, char *error, size_t error_size);

/* The reduced resolutions 1...levels of a frame under the reversible 5/3 wavelet with its origin at 0, after the
 * reversible colour transform for 3 components (both encoders' parameters above), as decoding its codestream at
 * reductions 1...levels gives them: each level's LL band (colour transformed back), clamped to `info->precision`
 * and written in the layout above, level 1 first, without encoding or decoding anything. */
int cim_reduced_resolutions(const uint8_t *samples, size_t samples_size, const cim_frame_info *info, uint32_t levels,
                            cim_buffer *out, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif
#endif
