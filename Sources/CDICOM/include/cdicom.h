#ifndef HIL_CDICOM_H
#define HIL_CDICOM_H
/*
 * CDICOM: the C face of a small C++ shim over DCMTK (Part 10 parsing, data dictionary, character sets, RLE / JPEG /
 * JPEG-LS decoding) and OpenJPEG (JPEG 2000 and HTJ2K decoding). No DCMTK or OpenJPEG type crosses this header.
 *
 * Ownership, in one place:
 *  - hil_dicom_open copies nothing it does not need: DCMTK parses the caller's buffer into its own dataset, so the
 *    caller may free `bytes` as soon as hil_dicom_open returns.
 *  - hil_dicom_open_file leaves values larger than 8 KiB (Pixel Data, its fragments) in the file and reads them when a
 *    frame needs them: the file must stay in place, unchanged, until hil_dicom_close.
 *  - Every `const char *` and `const uint8_t *` reached through a hil_dicom handle (transfer syntax, nodes, their
 *    keywords, VRs and values) is owned by the handle and stays valid until hil_dicom_close.
 *  - hil_dicom_decode_frame and hil_dicom_encoded_frame return a buffer the caller owns and frees with hil_dicom_free.
 *  - Errors come back as a code plus a NUL-terminated message in the caller's hil_dicom_error (no allocation).
 *
 * A handle is not thread-safe; distinct handles may be used on distinct threads at once (the shim's one-time setup —
 * codec registration and log routing — is done under a once-flag by hil_dicom_open).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HIL_DICOM_OK = 0,
    /* Not a DICOM Part 10 stream, or truncated / malformed beyond what DCMTK tolerates. */
    HIL_DICOM_INVALID_FILE = 1,
    /* A transfer syntax DCMTK does not know, or a compressed one no registered codec decodes. */
    HIL_DICOM_UNSUPPORTED_TRANSFER_SYNTAX = 2,
    /* An attribute the pixel module or the document needs is absent or unusable (Rows, Columns, …). */
    HIL_DICOM_MISSING_ATTRIBUTE = 3,
    /* An element's value length runs past the end of the data or contradicts its VR. */
    HIL_DICOM_ELEMENT_LENGTH = 4,
    /* A frame could not be decoded (codec error, frame index out of range, inconsistent pixel data). */
    HIL_DICOM_DECODE_FAILED = 5,
    /* Specific Character Set could not be converted to UTF-8. */
    HIL_DICOM_CHARSET = 6,
    HIL_DICOM_OUT_OF_MEMORY = 7,
    /* The file is beyond one of the hil_dicom_limits (the message names the limit and the value). */
    HIL_DICOM_LIMIT = 8
} hil_dicom_code;

/* ---- Limits ----------------------------------------------------------------------------------------------------
 * What one file may make the shim do. Before DCMTK sees a byte, an iterative prescan walks the whole stream and
 * refuses a file whose declared lengths run past their item, sequence or the data, whose undefined lengths are
 * where PS3.5 allows none, whose sequences nest deeper than max_sequence_depth or which holds more than
 * max_elements elements and items. hil_dicom_pixel_info_get then checks, before any pixel buffer exists, that
 * NumberOfFrames × Rows × Columns × SamplesPerPixel × bytes per sample fits the Pixel Data (native) or the
 * fragments (encapsulated), and the decoded sizes against max_frame_bytes and max_decoded_file_bytes; each frame's
 * codestream header (JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE) is checked against Rows, Columns, Samples per Pixel and
 * Bits Allocated before its codec runs. A zero field means "the default" (HIL_DICOM_DEFAULT_*). */
typedef struct {
    uint64_t max_frame_bytes;         /* decoded bytes of one frame */
    uint64_t max_decoded_file_bytes;  /* decoded bytes of all frames of one file */
    uint32_t max_sequence_depth;      /* a top-level SQ is depth 1 */
    uint64_t max_elements;            /* elements + items, at every depth */
    uint64_t max_inflated_bytes;      /* a deflated dataset, inflated */
} hil_dicom_limits;

#define HIL_DICOM_DEFAULT_MAX_FRAME_BYTES (1ull << 30)
#define HIL_DICOM_DEFAULT_MAX_DECODED_FILE_BYTES (16ull << 30)
#define HIL_DICOM_DEFAULT_MAX_SEQUENCE_DEPTH 64
#define HIL_DICOM_DEFAULT_MAX_ELEMENTS 1000000ull
#define HIL_DICOM_DEFAULT_MAX_INFLATED_BYTES (1ull << 30)

typedef struct {
    int code;            /* a hil_dicom_code */
    char message[512];   /* NUL-terminated, human readable; empty when code is HIL_DICOM_OK */
} hil_dicom_error;

typedef struct hil_dicom hil_dicom;

/* Parses one Part 10 file (preamble + "DICM" + meta header + dataset) held in memory. Returns NULL and fills
 * `error` on failure. Any transfer syntax DCMTK reads: implicit / explicit little endian, explicit big endian,
 * deflated, encapsulated. The dataset's strings are converted to UTF-8 from its Specific Character Set. */
hil_dicom *hil_dicom_open(const uint8_t *bytes, size_t length, const hil_dicom_limits *limits, hil_dicom_error *error);

/* The same for bytes [offset, offset + length) of the file at `path` (length 0: to the end of the file), without
 * reading it whole: values over 8 KiB stay on disk and each frame reads its own bytes (see Ownership). `limits` may be
 * NULL (the defaults). */
hil_dicom *hil_dicom_open_file(const char *path, uint64_t offset, uint64_t length, const hil_dicom_limits *limits,
                               hil_dicom_error *error);
void hil_dicom_close(hil_dicom *dicom);

/* The file's transfer syntax UID (from the meta header, else as detected). */
const char *hil_dicom_transfer_syntax(const hil_dicom *dicom);

/* ---- Elements: the File Meta Information then the dataset, flattened into a pre-order list of nodes ---------- */

typedef enum {
    HIL_NODE_ELEMENT = 0,        /* a leaf element with its value */
    HIL_NODE_SEQUENCE_BEGIN = 1, /* an SQ element; its items follow until the matching SEQUENCE_END */
    HIL_NODE_ITEM_BEGIN = 2,
    HIL_NODE_ITEM_END = 3,
    HIL_NODE_SEQUENCE_END = 4
} hil_node_kind;

typedef enum {
    /* `value` is UTF-8 text: the element's whole value, multiple values separated by '\\' (string VRs). */
    HIL_VALUE_TEXT = 0,
    /* `value` is `count` host-order numbers of the VR's binary type (US SS UL SL FL FD SV UV; AT as pairs of
     * uint16 group, element). */
    HIL_VALUE_NUMBERS = 1,
    /* `value` is the raw bytes of a binary VR (OB OW OF OD OL OV UN); host byte order for word VRs. */
    HIL_VALUE_BYTES = 2,
    /* No value (zero length), or Pixel Data (never copied: the frames are reached through the decode calls). */
    HIL_VALUE_NONE = 3
} hil_value_kind;

typedef struct {
    int kind;              /* hil_node_kind */
    int depth;             /* 0 for top-level elements, +1 inside each item */
    uint16_t group;
    uint16_t element;
    char vr[3];            /* two letters + NUL, as read (explicit VR) or from the dictionary (implicit VR) */
    const char *keyword;   /* DCMTK dictionary keyword; "" when the dictionary has none (private, unknown) */
    int value_kind;        /* hil_value_kind (ELEMENT nodes only) */
    const uint8_t *value;  /* see hil_value_kind; NULL when value_kind is HIL_VALUE_NONE */
    size_t value_length;   /* bytes at `value` */
    size_t count;          /* number of values: VM for text, numbers for NUMBERS, bytes for BYTES */
    int vm_max;            /* the dictionary's maximum VM for this tag: 1, 2, 3 …; -1 for "n"; 0 when unknown */
    int is_meta;           /* 1 for File Meta Information elements (group 0002), which come first */
} hil_dicom_node;

size_t hil_dicom_node_count(const hil_dicom *dicom);
/* Fills `node` with node `index` (0 ≤ index < hil_dicom_node_count); returns 0, or -1 for an index out of range. */
int hil_dicom_node_at(const hil_dicom *dicom, size_t index, hil_dicom_node *node);

/* ---- Pixels -------------------------------------------------------------------------------------------------- */

typedef struct {
    int has_pixel_data;    /* 0 when the dataset has no (7FE0,0010) */
    int rows;
    int columns;
    int samples_per_pixel;
    int bits_allocated;
    int bits_stored;
    int pixel_representation; /* 1: signed */
    int planar_configuration;
    int number_of_frames;
    int encapsulated;      /* 1 when Pixel Data is a sequence of fragments */
    char photometric[32];  /* Photometric Interpretation as it is after decoding (DCMTK's JPEG decoder may turn
                              YBR_FULL_422 into RGB) */
} hil_dicom_pixel_info;

/* Fills `info`; returns 0, or -1 with `error` set when the pixel module is incomplete, claims more frames or bytes
 * than the Pixel Data holds, or is over a limit (see Limits). Cheap: no decoding, no allocation. */
int hil_dicom_pixel_info_get(hil_dicom *dicom, hil_dicom_pixel_info *info, hil_dicom_error *error);

/* Gives back the memory of values read from the file for frames already decoded (hil_dicom_open_file handles;
 * a no-op otherwise). */
void hil_dicom_release_frames(hil_dicom *dicom);

/* Decodes frame `index` (0-based) into a new buffer of rows*columns*samples_per_pixel samples, each a little-endian
 * integer of the smallest size holding bits_allocated (1, 2 or 4 bytes; bit-packed 1-bit data unpacked to one byte
 * per sample), colour samples interleaved (planar data is interleaved here), no colour-space conversion of native or
 * RLE data (YBR_FULL_422 is expanded to one Y Cb Cr triple per pixel; DCMTK's JPEG decoder turns YCbCr into RGB),
 * signed samples sign-extended from bits_stored. On success returns 0 and sets *out /
 * *out_length (free *out with hil_dicom_free); on failure returns -1 and fills `error`. */
int hil_dicom_decode_frame(hil_dicom *dicom, size_t index, uint8_t **out, size_t *out_length, hil_dicom_error *error);

/* The encoded bytes of frame `index` of encapsulated Pixel Data (its fragments concatenated, padding kept), as the
 * service keeps lossy frames. Returns 0 and a caller-owned buffer (free with hil_dicom_free), or -1 with `error`
 * (not encapsulated, index out of range). */
int hil_dicom_encoded_frame(hil_dicom *dicom, size_t index, uint8_t **out, size_t *out_length, hil_dicom_error *error);

void hil_dicom_free(void *buffer);

#ifdef __cplusplus
}
#endif
#endif
