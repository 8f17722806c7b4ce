// The C++ side of CDICOM (see include/cdicom.h for the contract and buffer ownership).
#include "cdicom.h"
#include "CodecHeaders.hpp"
#include "Errors.hpp"
#include "Prescan.hpp"
#include "RangeInputStream.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <openjpeg-2.5/openjpeg.h>

#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <mutex>
#include <unistd.h>
#include <new>
#include <string>
#include <vector>

namespace {

struct Node {
    int kind;
    int depth;
    uint16_t group;
    uint16_t element;
    char vr[3];
    std::string keyword;
    int valueKind;
    std::string value;  // text, or the raw bytes of numbers / binary values
    size_t count;
    int vmMax;
    int isMeta;
};

using hil::clearError;
using hil::setError;

std::once_flag setupOnce;
bool dictionaryLoaded = false;

void setup() {
    // > OFLog::configure: "set up the logging and enable it", level OFF_LOG_LEVEL silences every logger
    // (dcmdata's W:/E: lines would otherwise go to stderr, one per odd file).
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    // Explicit-VR files written from implicit ones often carry "UN" for standard tags; read them with the
    // dictionary's VR (as pydicom does), so their values are text and numbers rather than opaque bytes.
    dcmEnableUnknownVRConversion.set(OFTrue);
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();  // JPEG baseline / extended / lossless (ijg8, ijg12, ijg16)
    DJLSDecoderRegistration::registerCodecs();  // JPEG-LS lossless and near-lossless (CharLS)
    dictionaryLoaded = dcmDataDict.isDictionaryLoaded();
}

bool isJPEG2000Family(const std::string &ts) {
    return ts == "1.2.840.10008.1.2.4.90" || ts == "1.2.840.10008.1.2.4.91" || ts == "1.2.840.10008.1.2.4.92" ||
           ts == "1.2.840.10008.1.2.4.93" || ts == "1.2.840.10008.1.2.4.201" || ts == "1.2.840.10008.1.2.4.202" ||
           ts == "1.2.840.10008.1.2.4.203";
}

/// Bytes a decoded sample takes (hil_dicom_decode_frame's layout): 1 up to 8 bits allocated, 2 up to 16, else 4.
int bytesPerSample(const hil_dicom_pixel_info &info) {
    return info.bits_allocated <= 8 ? 1 : info.bits_allocated <= 16 ? 2 : 4;
}

}  // namespace

struct hil_dicom {
    DcmFileFormat file;
    hil_dicom_limits limits;
    /// Opened with hil_dicom_open_file: large values are read from the file on demand (and released after use).
    bool fromFile = false;
    std::string transferSyntax;
    std::vector<Node> nodes;
    // Encapsulated frame → [first fragment, end fragment) (fragment 0 is the Basic Offset Table), built once.
    std::vector<std::pair<unsigned long, unsigned long>> frameFragments;
    bool fragmentsMapped = false;
    // The colour model of the samples the last hil_dicom_decode_frame returned.
    std::string decodedPhotometric;
};

namespace {

int mapReadCondition(const OFCondition &cond) {
    if (cond == EC_ElemLengthLargerThanItem || cond == EC_ElemLengthExceeds16BitField ||
        cond == EC_ElemLengthExceeds32BitField || cond == EC_InvalidVR)
        return HIL_DICOM_ELEMENT_LENGTH;
    if (cond == EC_UnsupportedEncoding || cond == EC_CannotChangeRepresentation) return HIL_DICOM_UNSUPPORTED_TRANSFER_SYNTAX;
    if (cond == EC_MemoryExhausted) return HIL_DICOM_OUT_OF_MEMORY;
    return HIL_DICOM_INVALID_FILE;
}

void copyArray(Node &node, const void *data, size_t bytes, size_t count) {
    if (data && bytes) node.value.assign(static_cast<const char *>(data), bytes);
    node.count = count;
}

int dictionaryVMMax(DcmTag &tag) {
    const DcmDataDictionary &dict = dcmDataDict.rdlock();
    const DcmDictEntry *entry = dict.findEntry(tag.getXTag(), tag.getPrivateCreator());
    int vm = entry ? entry->getVMMax() : 0;
    dcmDataDict.rdunlock();
    if (vm == DcmVariableVM) return -1;
    return vm;
}

Node makeNode(DcmElement *el, int depth, int isMeta) {
    Node node{};
    node.isMeta = isMeta;
    DcmTag tag = el->getTag();
    node.vmMax = dictionaryVMMax(tag);
    node.group = tag.getGTag();
    node.element = tag.getETag();
    node.depth = depth;
    DcmVR vr(el->getVR());
    const char *vrName = vr.getValidVRName();
    std::snprintf(node.vr, sizeof node.vr, "%s", vrName ? vrName : "UN");
    const char *name = tag.getTagName();
    if (name && std::strcmp(name, DcmTag_ERROR_TagName) != 0) node.keyword = name;
    node.valueKind = HIL_VALUE_NONE;
    node.count = 0;
    return node;
}

void addLeaf(hil_dicom *d, DcmElement *el, int depth, int isMeta) {
    Node node = makeNode(el, depth, isMeta);
    node.kind = HIL_NODE_ELEMENT;
    const bool pixelData = node.group == 0x7FE0 && (node.element == 0x0010 || node.element == 0x0008 || node.element == 0x0009);
    if (pixelData || el->getLength() == 0) {
        d->nodes.push_back(node);
        return;
    }
    const Uint32 length = el->getLength();
    switch (el->ident()) {
    case EVR_US: { Uint16 *v = nullptr; if (el->getUint16Array(v).good()) copyArray(node, v, length, length / 2); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_SS: { Sint16 *v = nullptr; if (el->getSint16Array(v).good()) copyArray(node, v, length, length / 2); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_UL: { Uint32 *v = nullptr; if (el->getUint32Array(v).good()) copyArray(node, v, length, length / 4); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_SL: { Sint32 *v = nullptr; if (el->getSint32Array(v).good()) copyArray(node, v, length, length / 4); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_FL: { Float32 *v = nullptr; if (el->getFloat32Array(v).good()) copyArray(node, v, length, length / 4); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_FD: { Float64 *v = nullptr; if (el->getFloat64Array(v).good()) copyArray(node, v, length, length / 8); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_SV: { Sint64 *v = nullptr; if (el->getSint64Array(v).good()) copyArray(node, v, length, length / 8); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_UV: { Uint64 *v = nullptr; if (el->getUint64Array(v).good()) copyArray(node, v, length, length / 8); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_AT: { Uint16 *v = nullptr; if (el->getUint16Array(v).good()) copyArray(node, v, length, length / 4); node.valueKind = HIL_VALUE_NUMBERS; break; }
    case EVR_OW: { Uint16 *v = nullptr; if (el->getUint16Array(v).good()) copyArray(node, v, length, length); node.valueKind = HIL_VALUE_BYTES; break; }
    case EVR_OF: { Float32 *v = nullptr; if (el->getFloat32Array(v).good()) copyArray(node, v, length, length); node.valueKind = HIL_VALUE_BYTES; break; }
    case EVR_OD: { Float64 *v = nullptr; if (el->getFloat64Array(v).good()) copyArray(node, v, length, length); node.valueKind = HIL_VALUE_BYTES; break; }
    case EVR_OL: { Uint32 *v = nullptr; if (el->getUint32Array(v).good()) copyArray(node, v, length, length); node.valueKind = HIL_VALUE_BYTES; break; }
    case EVR_OV: { Uint64 *v = nullptr; if (el->getUint64Array(v).good()) copyArray(node, v, length, length); node.valueKind = HIL_VALUE_BYTES; break; }
    case EVR_OB: case EVR_UN: case EVR_ox: case EVR_px: case EVR_UNKNOWN: case EVR_UNKNOWN2B: {
        Uint8 *v = nullptr;
        if (el->getUint8Array(v).good()) copyArray(node, v, length, length);
        node.valueKind = HIL_VALUE_BYTES;
        break;
    }
    default: {
        OFString text;
        if (el->getOFStringArray(text, OFFalse).good()) {
            node.value.assign(text.c_str(), text.length());
            node.valueKind = HIL_VALUE_TEXT;
            node.count = el->getVM();
        } else {
            Uint8 *v = nullptr;
            if (el->getUint8Array(v).good()) copyArray(node, v, length, length);
            node.valueKind = HIL_VALUE_BYTES;
        }
        break;
    }
    }
    d->nodes.push_back(node);
    // > DcmElement::compact: "remove the attribute value from memory if the attribute value can be loaded from file
    // when needed again" (dcelem.h): a large value copied into the node need not stay in DCMTK as well.
    if (d->fromFile) el->compact();
}

// The dataset (or meta header) as a pre-order node list, walked with an explicit stack rather than recursion so that
// no file can drive the depth of the C++ stack (the prescan already bounds nesting; this holds whatever DCMTK
// accepted). Returns false, with `error` set, past limits.max_sequence_depth.
bool addElements(hil_dicom *d, DcmItem *root, int isMeta, hil_dicom_error *error) {
    struct Cursor {
        DcmItem *item;
        unsigned long next;
        int depth;                 // depth of the item's elements
        DcmSequenceOfItems *sq;    // the sequence the item belongs to (nullptr for the root)
        unsigned long itemIndex;
        Node sequenceNode;
    };
    std::vector<Cursor> stack;
    stack.push_back({root, 0, 0, nullptr, 0, Node{}});
    while (!stack.empty()) {
        Cursor &c = stack.back();
        if (c.next < c.item->card()) {
            DcmElement *el = c.item->getElement(c.next++);
            const int depth = c.depth;
            if (el->ident() != EVR_SQ) {
                addLeaf(d, el, depth, isMeta);
                continue;
            }
            Node node = makeNode(el, depth, isMeta);
            node.kind = HIL_NODE_SEQUENCE_BEGIN;
            d->nodes.push_back(node);
            DcmSequenceOfItems *sq = static_cast<DcmSequenceOfItems *>(el);
            if (sq->card() == 0) {
                Node end = node;
                end.kind = HIL_NODE_SEQUENCE_END;
                end.keyword.clear();
                d->nodes.push_back(end);
                continue;
            }
            if ((uint32_t)(depth + 1) > d->limits.max_sequence_depth) {
                setError(error, HIL_DICOM_LIMIT, "sequences nest more than " + std::to_string(d->limits.max_sequence_depth) + " levels deep");
                return false;
            }
            Node item{};
            item.kind = HIL_NODE_ITEM_BEGIN;
            item.depth = depth;
            item.isMeta = isMeta;
            item.valueKind = HIL_VALUE_NONE;
            d->nodes.push_back(item);
            stack.push_back({sq->getItem(0), 0, depth + 1, sq, 0, node});
            continue;
        }
        if (!c.sq) {
            stack.pop_back();
            continue;
        }
        Node item{};
        item.kind = HIL_NODE_ITEM_END;
        item.depth = c.depth - 1;
        item.isMeta = isMeta;
        item.valueKind = HIL_VALUE_NONE;
        d->nodes.push_back(item);
        if (c.itemIndex + 1 < c.sq->card()) {
            c.item = c.sq->getItem(++c.itemIndex);
            c.next = 0;
            item.kind = HIL_NODE_ITEM_BEGIN;
            d->nodes.push_back(item);
        } else {
            Node end = c.sequenceNode;
            end.kind = HIL_NODE_SEQUENCE_END;
            end.keyword.clear();
            d->nodes.push_back(end);
            stack.pop_back();
        }
    }
    return true;
}

DcmPixelData *pixelDataElement(hil_dicom *d) {
    DcmElement *el = nullptr;
    if (d->file.getDataset()->findAndGetElement(DCM_PixelData, el).bad() || !el) return nullptr;
    if (el->ident() != EVR_PixelData) return nullptr;
    return static_cast<DcmPixelData *>(el);
}

long intAttribute(DcmDataset *ds, const DcmTagKey &key, long fallback) {
    Uint16 u = 0;
    if (ds->findAndGetUint16(key, u).good()) return u;
    long v = 0;
    OFString text;
    if (ds->findAndGetOFString(key, text).good() && !text.empty()) {
        char *end = nullptr;
        v = std::strtol(text.c_str(), &end, 10);
        if (end != text.c_str()) return v;
    }
    return fallback;
}

bool encapsulatedPixels(hil_dicom *d, DcmPixelSequence *&seq) {
    DcmPixelData *px = pixelDataElement(d);
    seq = nullptr;
    if (!px) return false;
    E_TransferSyntax xfer = EXS_Unknown;
    const DcmRepresentationParameter *param = nullptr;
    px->getOriginalRepresentationKey(xfer, param);
    if (px->getEncapsulatedRepresentation(xfer, param, seq).good() && seq) return true;
    seq = nullptr;
    return false;
}

// Frame → fragment ranges: one fragment per frame when the counts match; the Basic Offset Table when present;
// a single frame owns every fragment; otherwise a new frame starts at each fragment that opens a JPEG (FFD8) or a
// JPEG 2000 codestream (FF4F) / JP2 signature box.
bool mapFragments(hil_dicom *d, DcmPixelSequence *seq, size_t frames, hil_dicom_error *error) {
    if (d->fragmentsMapped) return true;
    const unsigned long count = seq->card();
    if (count < 2) { setError(error, HIL_DICOM_DECODE_FAILED, "the encapsulated Pixel Data holds no fragments"); return false; }
    const unsigned long fragments = count - 1;
    std::vector<std::pair<unsigned long, unsigned long>> map;
    if (fragments == frames) {
        for (unsigned long i = 1; i < count; i++) map.push_back({i, i + 1});
    } else if (frames == 1) {
        map.push_back({1, count});
    } else {
        DcmPixelItem *table = nullptr;
        seq->getItem(table, 0);
        Uint32 tableLength = table ? table->getLength() : 0;
        if (tableLength >= 4 * frames) {
            Uint8 *raw = nullptr;
            table->getUint8Array(raw);
            std::vector<uint32_t> offsets;
            for (size_t f = 0; f < frames; f++) {
                uint32_t v;
                std::memcpy(&v, raw + 4 * f, 4);  // little endian in every encapsulated transfer syntax
                offsets.push_back(v);
            }
            // Walk fragments, tracking each one's offset from the first fragment (item header = 8 bytes).
            uint32_t pos = 0;
            std::vector<unsigned long> start(frames, 0);
            size_t next = 0;
            for (unsigned long i = 1; i < count && next < frames; i++) {
                while (next < frames && offsets[next] == pos) start[next++] = i;
                DcmPixelItem *item = nullptr;
                seq->getItem(item, i);
                pos += 8 + (item ? item->getLength() : 0);
            }
            if (next == frames) {
                for (size_t f = 0; f < frames; f++) map.push_back({start[f], f + 1 < frames ? start[f + 1] : count});
            }
        }
        if (map.empty()) {
            std::vector<unsigned long> starts;
            for (unsigned long i = 1; i < count; i++) {
                DcmPixelItem *item = nullptr;
                seq->getItem(item, i);
                Uint8 *raw = nullptr;
                if (!item || item->getLength() < 2 || item->getUint8Array(raw).bad() || !raw) continue;
                bool opens = (raw[0] == 0xFF && (raw[1] == 0xD8 || raw[1] == 0x4F)) ||
                             (item->getLength() >= 8 && std::memcmp(raw + 4, "jP  ", 4) == 0);
                if (opens) starts.push_back(i);
            }
            if (starts.size() == frames) {
                for (size_t f = 0; f < frames; f++) map.push_back({starts[f], f + 1 < frames ? starts[f + 1] : count});
            }
        }
    }
    if (map.size() != frames) {
        setError(error, HIL_DICOM_DECODE_FAILED,
                 "cannot tell which of the " + std::to_string(fragments) + " Pixel Data fragments belong to each of the " +
                     std::to_string(frames) + " frames");
        return false;
    }
    d->frameFragments = map;
    d->fragmentsMapped = true;
    return true;
}

bool frameBytes(hil_dicom *d, size_t index, std::vector<uint8_t> &bytes, hil_dicom_error *error) {
    DcmPixelSequence *seq = nullptr;
    if (!encapsulatedPixels(d, seq)) {
        setError(error, HIL_DICOM_DECODE_FAILED, "Pixel Data is not encapsulated");
        return false;
    }
    long frames = intAttribute(d->file.getDataset(), DCM_NumberOfFrames, 1);
    if (frames < 1) frames = 1;
    if (index >= (size_t)frames) {
        setError(error, HIL_DICOM_DECODE_FAILED, "frame " + std::to_string(index) + " is out of range");
        return false;
    }
    if (!mapFragments(d, seq, (size_t)frames, error)) return false;
    auto range = d->frameFragments[index];
    for (unsigned long i = range.first; i < range.second; i++) {
        DcmPixelItem *item = nullptr;
        seq->getItem(item, i);
        Uint8 *raw = nullptr;
        if (!item || item->getLength() == 0 || item->getUint8Array(raw).bad() || !raw) continue;
        bytes.insert(bytes.end(), raw, raw + item->getLength());
    }
    return true;
}

// ---- OpenJPEG from memory ----------------------------------------------------------------------------------------

struct MemoryStream {
    const uint8_t *data;
    size_t length;
    size_t position;
};

OPJ_SIZE_T memRead(void *buffer, OPJ_SIZE_T bytes, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (m->position >= m->length) return (OPJ_SIZE_T)-1;
    size_t n = std::min<size_t>(bytes, m->length - m->position);
    std::memcpy(buffer, m->data + m->position, n);
    m->position += n;
    return n;
}
OPJ_OFF_T memSkip(OPJ_OFF_T bytes, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (bytes < 0) { if ((size_t)-bytes > m->position) return -1; m->position -= (size_t)-bytes; return bytes; }
    size_t n = std::min<size_t>((size_t)bytes, m->length - m->position);
    m->position += n;
    return (OPJ_OFF_T)n;
}
OPJ_BOOL memSeek(OPJ_OFF_T to, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (to < 0 || (size_t)to > m->length) return OPJ_FALSE;
    m->position = (size_t)to;
    return OPJ_TRUE;
}
void opjQuiet(const char *, void *) {}
void opjError(const char *msg, void *user) {
    auto *s = static_cast<std::string *>(user);
    if (s->empty()) { *s = msg; while (!s->empty() && (s->back() == '\n')) s->pop_back(); }
}

bool decodeJPEG2000(const std::vector<uint8_t> &bytes, const hil_dicom_pixel_info &info, std::vector<uint8_t> &out,
                    hil_dicom_error *error) {
    if (bytes.size() < 12) { setError(error, HIL_DICOM_DECODE_FAILED, "JPEG 2000 frame is too short"); return false; }
    const bool jp2 = std::memcmp(bytes.data() + 4, "jP  ", 4) == 0;
    opj_codec_t *codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    std::string message;
    opj_set_info_handler(codec, opjQuiet, nullptr);
    opj_set_warning_handler(codec, opjQuiet, nullptr);
    opj_set_error_handler(codec, opjError, &message);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    MemoryStream mem{bytes.data(), bytes.size(), 0};
    opj_stream_t *stream = opj_stream_create(1 << 16, OPJ_TRUE);
    opj_stream_set_user_data(stream, &mem, nullptr);
    opj_stream_set_user_data_length(stream, bytes.size());
    opj_stream_set_read_function(stream, memRead);
    opj_stream_set_skip_function(stream, memSkip);
    opj_stream_set_seek_function(stream, memSeek);
    opj_image_t *image = nullptr;
    bool ok = opj_setup_decoder(codec, &params) && opj_read_header(stream, codec, &image) &&
              opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    if (!ok || !image) {
        if (image) opj_image_destroy(image);
        setError(error, HIL_DICOM_DECODE_FAILED, "OpenJPEG could not decode the frame" + (message.empty() ? std::string() : ": " + message));
        return false;
    }
    const size_t pixels = (size_t)info.rows * info.columns;
    const int spp = info.samples_per_pixel;
    bool shapeOK = (int)image->numcomps >= spp;
    for (int c = 0; shapeOK && c < spp; c++)
        shapeOK = image->comps[c].w == (OPJ_UINT32)info.columns && image->comps[c].h == (OPJ_UINT32)info.rows && image->comps[c].data;
    if (!shapeOK) {
        opj_image_destroy(image);
        setError(error, HIL_DICOM_DECODE_FAILED, "the JPEG 2000 frame's size or components disagree with Rows, Columns and Samples per Pixel");
        return false;
    }
    const int bytesPer = bytesPerSample(info);
    out.assign(pixels * spp * bytesPer, 0);
    uint8_t *p = out.data();
    for (size_t i = 0; i < pixels; i++) {
        for (int c = 0; c < spp; c++) {
            uint32_t v = (uint32_t)image->comps[c].data[i];
            for (int b = 0; b < bytesPer; b++) *p++ = (uint8_t)(v >> (8 * b));
        }
    }
    opj_image_destroy(image);
    return true;
}

// ---- Sizes before allocations ------------------------------------------------------------------------------------

/// Bytes one decoded frame takes (hil_dicom_decode_frame's layout: 1-bit samples unpacked to a byte each).
uint64_t decodedFrameBytes(const hil_dicom_pixel_info &info) {
    const uint64_t bytesPer = bytesPerSample(info);
    return (uint64_t)info.rows * (uint64_t)info.columns * (uint64_t)info.samples_per_pixel * bytesPer;
}

/// What the attributes claim against what the file holds and the limits, before any pixel buffer exists.
bool checkSizes(hil_dicom *d, const hil_dicom_pixel_info &info, DcmPixelData *px, DcmPixelSequence *seq, hil_dicom_error *error) {
    const uint64_t frames = (uint64_t)info.number_of_frames;
    const uint64_t frameBytes = decodedFrameBytes(info);
    const std::string shape = std::to_string(info.rows) + " rows × " + std::to_string(info.columns) + " columns × " +
                              std::to_string(info.samples_per_pixel) + " samples × " + std::to_string(info.bits_allocated) + " bits";
    if (frameBytes > d->limits.max_frame_bytes) {
        setError(error, HIL_DICOM_LIMIT, "one frame (" + shape + ") decodes to " + std::to_string(frameBytes) +
                 " bytes, over the limit of " + std::to_string(d->limits.max_frame_bytes) + " bytes per frame (--max-frame-bytes)");
        return false;
    }
    // frames ≤ 2^31 and frameBytes ≤ max_frame_bytes: compare by division, no overflow.
    if (frames > d->limits.max_decoded_file_bytes / (frameBytes ? frameBytes : 1)) {
        setError(error, HIL_DICOM_LIMIT, std::to_string(frames) + " frames of " + std::to_string(frameBytes) +
                 " bytes decode to more than the limit of " + std::to_string(d->limits.max_decoded_file_bytes) +
                 " bytes per file (--max-decoded-file-bytes)");
        return false;
    }
    if (seq) {
        // PS3.5 §A.4: every frame has at least one fragment of its own (item 0 is the Basic Offset Table).
        const unsigned long fragments = seq->card() > 0 ? seq->card() - 1 : 0;
        if (frames > fragments) {
            setError(error, HIL_DICOM_ELEMENT_LENGTH, "Number of Frames is " + std::to_string(frames) +
                     " but the encapsulated Pixel Data holds " + std::to_string(fragments) + " fragments");
            return false;
        }
        return true;
    }
    // Native: the stored size of every frame must be in the Pixel Data (PS3.5 §8.1.1; 1-bit frames are bit-packed,
    // YBR_FULL_422 stores two samples per pixel).
    uint64_t storedBits;
    if (info.bits_allocated == 1) {
        storedBits = frames * (uint64_t)info.rows * info.columns * info.samples_per_pixel;
    } else if (info.samples_per_pixel == 3 && std::strcmp(info.photometric, "YBR_FULL_422") == 0) {
        storedBits = frames * (uint64_t)info.rows * info.columns * 2 * info.bits_allocated;
    } else {
        storedBits = frames * (uint64_t)info.rows * info.columns * info.samples_per_pixel * info.bits_allocated;
    }
    const uint64_t needed = (storedBits + 7) / 8;
    const uint64_t held = px->getLength();
    if (needed > held) {
        setError(error, HIL_DICOM_ELEMENT_LENGTH, "Pixel Data holds " + std::to_string(held) + " bytes; " +
                 std::to_string(frames) + " frames of " + shape + " need " + std::to_string(needed));
        return false;
    }
    return true;
}

/// The first fragment of encapsulated frame `index` and the total size of its fragments.
bool firstFragment(hil_dicom *d, DcmPixelSequence *seq, size_t index, const Uint8 *&bytes, size_t &size, uint64_t &total,
                   hil_dicom_error *error) {
    auto range = d->frameFragments[index];
    total = 0;
    for (unsigned long i = range.first; i < range.second; i++) {
        DcmPixelItem *item = nullptr;
        if (seq->getItem(item, i).good() && item) total += item->getLength();
    }
    DcmPixelItem *item = nullptr;
    Uint8 *raw = nullptr;
    if (seq->getItem(item, range.first).bad() || !item || item->getLength() == 0 || item->getUint8Array(raw).bad() || !raw) {
        setError(error, HIL_DICOM_DECODE_FAILED, "frame " + std::to_string(index) + " has no data");
        return false;
    }
    bytes = raw;
    size = item->getLength();
    return true;
}

/// The frame's codestream header agrees with the attributes (PS3.5 §8.2: the encapsulated stream and the Image Pixel
/// Module describe the same image), so no codec is asked to decode more than one frame's ceiling.
bool checkCodestream(hil_dicom *d, const hil_dicom_pixel_info &info, size_t index, hil_dicom_error *error) {
    DcmPixelSequence *seq = nullptr;
    if (!encapsulatedPixels(d, seq)) return true;
    if (!mapFragments(d, seq, (size_t)info.number_of_frames, error)) return false;
    const Uint8 *bytes = nullptr;
    size_t size = 0;
    uint64_t total = 0;
    if (!firstFragment(d, seq, index, bytes, size, total, error)) return false;
    const std::string &ts = d->transferSyntax;
    const std::string frame = "frame " + std::to_string(index + 1);
    std::string why;
    if (ts == "1.2.840.10008.1.2.5") {
        const uint32_t bytesPer = bytesPerSample(info);
        if (!hil::rleCheck(bytes, size, total, (uint32_t)info.samples_per_pixel * bytesPer,
                           (uint64_t)info.rows * info.columns, why)) {
            setError(error, HIL_DICOM_DECODE_FAILED, frame + ": " + why);
            return false;
        }
        return true;
    }
    hil::CodestreamShape shape;
    const bool jpeg = ts.rfind("1.2.840.10008.1.2.4.", 0) == 0 && !isJPEG2000Family(ts);
    if (jpeg) {
        if (!hil::jpegShape(bytes, size, shape, why)) { setError(error, HIL_DICOM_DECODE_FAILED, frame + ": " + why); return false; }
    } else if (isJPEG2000Family(ts)) {
        if (!hil::j2kShape(bytes, size, shape, why)) { setError(error, HIL_DICOM_DECODE_FAILED, frame + ": " + why); return false; }
    } else {
        return true;  // another encapsulated syntax: refused by DCMTK as unsupported
    }
    const bool sizeAgrees = shape.width == (uint32_t)info.columns && (shape.height == (uint32_t)info.rows || (jpeg && shape.height == 0));
    if (!sizeAgrees || shape.components != (uint32_t)info.samples_per_pixel) {
        setError(error, HIL_DICOM_DECODE_FAILED, frame + "'s codestream header describes " + std::to_string(shape.height) + " rows × " +
                 std::to_string(shape.width) + " columns × " + std::to_string(shape.components) + " components; the dataset says " +
                 std::to_string(info.rows) + " × " + std::to_string(info.columns) + " × " + std::to_string(info.samples_per_pixel));
        return false;
    }
    if (shape.precision > (uint32_t)info.bits_allocated) {
        setError(error, HIL_DICOM_DECODE_FAILED, frame + "'s codestream holds " + std::to_string(shape.precision) +
                 "-bit samples; Bits Allocated is " + std::to_string(info.bits_allocated));
        return false;
    }
    return true;
}

/// In a file-backed handle: drops the values DCMTK loaded for frame `index` (they are read again if needed).
void releaseFrame(hil_dicom *d, size_t index) {
    if (!d->fromFile) return;
    DcmPixelSequence *seq = nullptr;
    if (encapsulatedPixels(d, seq)) {
        if (!d->fragmentsMapped || index >= d->frameFragments.size()) return;
        auto range = d->frameFragments[index];
        for (unsigned long i = range.first; i < range.second; i++) {
            DcmPixelItem *item = nullptr;
            if (seq->getItem(item, i).good() && item) item->compact();
        }
    } else if (DcmPixelData *px = pixelDataElement(d)) {
        px->compact();
    }
}

// ---- Opening -----------------------------------------------------------------------------------------------------

/// Values over this many bytes stay in the file when a handle is opened with hil_dicom_open_file.
constexpr Uint32 largeValueBytes = 8192;

bool ready(hil_dicom_error *error) {
    std::call_once(setupOnce, setup);
    if (!dictionaryLoaded) {
        setError(error, HIL_DICOM_INVALID_FILE,
                 "DCMTK's data dictionary is not loaded (install libdcmtk17, which ships /usr/share/libdcmtk17/dicom.dic, or set DCMDICTPATH)");
        return false;
    }
    return true;
}

hil_dicom_limits withDefaults(const hil_dicom_limits *given) {
    hil_dicom_limits l{};
    if (given) l = *given;
    if (!l.max_frame_bytes) l.max_frame_bytes = HIL_DICOM_DEFAULT_MAX_FRAME_BYTES;
    if (!l.max_decoded_file_bytes) l.max_decoded_file_bytes = HIL_DICOM_DEFAULT_MAX_DECODED_FILE_BYTES;
    if (!l.max_sequence_depth) l.max_sequence_depth = HIL_DICOM_DEFAULT_MAX_SEQUENCE_DEPTH;
    if (!l.max_elements) l.max_elements = HIL_DICOM_DEFAULT_MAX_ELEMENTS;
    if (!l.max_inflated_bytes) l.max_inflated_bytes = HIL_DICOM_DEFAULT_MAX_INFLATED_BYTES;
    return l;
}

hil::ScanLimits scanLimits(const hil_dicom_limits &l) {
    return hil::ScanLimits{l.max_sequence_depth, l.max_elements, l.max_inflated_bytes};
}

/// DCMTK reads the (prescanned) stream; then the transfer syntax, UTF-8 strings and the node list.
hil_dicom *parse(DcmInputStream &stream, const hil_dicom_limits &limits, bool fromFile, Uint32 maxReadLength,
                 hil_dicom_error *error) {
    hil_dicom *d = new (std::nothrow) hil_dicom();
    if (!d) { setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory"); return nullptr; }
    d->limits = limits;
    d->fromFile = fromFile;
    try {
        d->file.transferInit();
        OFCondition cond = d->file.read(stream, EXS_Unknown, EGL_noChange, maxReadLength);
        d->file.transferEnd();
        if (cond.bad()) {
            setError(error, mapReadCondition(cond), std::string("DCMTK could not read the file: ") + cond.text());
            delete d;
            return nullptr;
        }
        OFString ts;
        if (d->file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts).good() && !ts.empty()) {
            d->transferSyntax = ts.c_str();
        } else {
            DcmXfer xfer(d->file.getDataset()->getOriginalXfer());
            d->transferSyntax = xfer.getXferID();
        }
        DcmXfer known(d->transferSyntax.c_str());
        if (known.getXfer() == EXS_Unknown && !isJPEG2000Family(d->transferSyntax)) {
            setError(error, HIL_DICOM_UNSUPPORTED_TRANSFER_SYNTAX, "transfer syntax " + d->transferSyntax + " is not one DCMTK reads");
            delete d;
            return nullptr;
        }
        // Strings become UTF-8; Specific Character Set itself keeps the value the file declared. A set iconv cannot
        // convert leaves the strings as they are (the Swift side repairs invalid UTF-8) rather than refusing the file.
        OFString declaredCharset;
        const bool hasCharset = d->file.getDataset()->findAndGetOFStringArray(DCM_SpecificCharacterSet, declaredCharset).good();
        d->file.getDataset()->convertToUTF8();
        DcmMetaInfo *meta = d->file.getMetaInfo();
        if ((meta && !addElements(d, meta, 1, error)) || !addElements(d, d->file.getDataset(), 0, error)) {
            delete d;
            return nullptr;
        }
        if (hasCharset) {
            for (Node &n : d->nodes) {
                if (!n.isMeta && n.depth == 0 && n.kind == HIL_NODE_ELEMENT && n.group == 0x0008 && n.element == 0x0005) {
                    n.value.assign(declaredCharset.c_str(), declaredCharset.length());
                    n.valueKind = declaredCharset.empty() ? HIL_VALUE_NONE : HIL_VALUE_TEXT;
                }
            }
        }
    } catch (const std::bad_alloc &) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory while reading the file");
        delete d;
        return nullptr;
    }
    return d;
}

}  // namespace

extern "C" {

hil_dicom *hil_dicom_open(const uint8_t *bytes, size_t length, const hil_dicom_limits *limits, hil_dicom_error *error) {
    clearError(error);
    if (!ready(error)) return nullptr;
    // Part 10: a 128-byte preamble, then "DICM", then the File Meta Information.
    if (!bytes || length < 132 || std::memcmp(bytes + 128, "DICM", 4) != 0) {
        setError(error, HIL_DICOM_INVALID_FILE, "not a DICOM Part 10 file: no \"DICM\" prefix after the 128-byte preamble");
        return nullptr;
    }
    const hil_dicom_limits effective = withDefaults(limits);
    std::string declared;
    hil::MemorySource source(bytes, length);
    if (!hil::prescan(source, scanLimits(effective), declared, error)) return nullptr;
    DcmInputBufferStream stream;
    stream.setBuffer(bytes, (offile_off_t)length);
    stream.setEos();
    return parse(stream, effective, false, DCM_UndefinedLength, error);
}

hil_dicom *hil_dicom_open_file(const char *path, uint64_t offset, uint64_t length, const hil_dicom_limits *limits,
                               hil_dicom_error *error) {
    clearError(error);
    if (!ready(error)) return nullptr;
    // > open(2): "returns the new file descriptor … On error, -1 is returned, and errno is set".
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        setError(error, HIL_DICOM_INVALID_FILE, std::string("cannot open the file: ") + std::strerror(errno));
        return nullptr;
    }
    struct stat info;
    const bool sized = ::fstat(fd, &info) == 0;
    const uint64_t size = sized ? (uint64_t)info.st_size : 0;
    if (!sized || offset > size || (length != 0 && length > size - offset)) {
        ::close(fd);
        setError(error, HIL_DICOM_INVALID_FILE, "the byte range is not inside the file");
        return nullptr;
    }
    if (length == 0) length = size - offset;
    const hil_dicom_limits effective = withDefaults(limits);
    std::string declared;
    bool scanned;
    {
        hil::FileSource source(fd, offset, length);
        scanned = hil::prescan(source, scanLimits(effective), declared, error);
    }
    ::close(fd);
    if (!scanned) return nullptr;
    hil::RangeInputStream stream(path, (offile_off_t)offset, (offile_off_t)(offset + length));
    if (stream.status().bad()) {
        setError(error, HIL_DICOM_INVALID_FILE, std::string("cannot open the file: ") + stream.status().text());
        return nullptr;
    }
    // > DcmFileFormat::read: "maxReadLength: attribute values larger than this value are skipped while parsing and
    // read later upon first access if the stream type supports this" (dcfilefo.h): the stream's factory does.
    return parse(stream, effective, true, largeValueBytes, error);
}

void hil_dicom_close(hil_dicom *dicom) { delete dicom; }

const char *hil_dicom_transfer_syntax(const hil_dicom *dicom) { return dicom->transferSyntax.c_str(); }

size_t hil_dicom_node_count(const hil_dicom *dicom) { return dicom->nodes.size(); }

int hil_dicom_node_at(const hil_dicom *dicom, size_t index, hil_dicom_node *node) {
    if (index >= dicom->nodes.size() || !node) return -1;
    const Node &n = dicom->nodes[index];
    node->kind = n.kind;
    node->depth = n.depth;
    node->group = n.group;
    node->element = n.element;
    std::memcpy(node->vr, n.vr, 3);
    node->keyword = n.keyword.c_str();
    node->value_kind = n.valueKind;
    node->value = n.valueKind == HIL_VALUE_NONE ? nullptr : reinterpret_cast<const uint8_t *>(n.value.data());
    node->value_length = n.value.size();
    node->count = n.count;
    node->vm_max = n.vmMax;
    node->is_meta = n.isMeta;
    return 0;
}

int hil_dicom_pixel_info_get(hil_dicom *dicom, hil_dicom_pixel_info *info, hil_dicom_error *error) {
    clearError(error);
    std::memset(info, 0, sizeof *info);
    DcmDataset *ds = dicom->file.getDataset();
    DcmPixelData *px = pixelDataElement(dicom);
    if (!px) return 0;
    info->has_pixel_data = 1;
    info->rows = (int)intAttribute(ds, DCM_Rows, 0);
    info->columns = (int)intAttribute(ds, DCM_Columns, 0);
    info->samples_per_pixel = (int)intAttribute(ds, DCM_SamplesPerPixel, 1);
    info->bits_allocated = (int)intAttribute(ds, DCM_BitsAllocated, 0);
    info->bits_stored = (int)intAttribute(ds, DCM_BitsStored, info->bits_allocated);
    info->pixel_representation = (int)intAttribute(ds, DCM_PixelRepresentation, 0);
    info->planar_configuration = (int)intAttribute(ds, DCM_PlanarConfiguration, 0);
    long frames = intAttribute(ds, DCM_NumberOfFrames, 1);
    if (frames > INT32_MAX) {
        setError(error, HIL_DICOM_ELEMENT_LENGTH, "Number of Frames " + std::to_string(frames) + " is over 2147483647");
        return -1;
    }
    info->number_of_frames = frames < 1 ? 1 : (int)frames;
    DcmPixelSequence *seq = nullptr;
    info->encapsulated = encapsulatedPixels(dicom, seq) ? 1 : 0;
    OFString photometric;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
    std::snprintf(info->photometric, sizeof info->photometric, "%s", photometric.c_str());
    const char *missing = info->rows <= 0 ? "Rows" : info->columns <= 0 ? "Columns" : info->bits_allocated <= 0 ? "BitsAllocated" : nullptr;
    if (missing) {
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, std::string("the image has Pixel Data but no usable ") + missing);
        return -1;
    }
    if (info->samples_per_pixel != 1 && info->samples_per_pixel != 3) {
        setError(error, HIL_DICOM_DECODE_FAILED, "Samples per Pixel " + std::to_string(info->samples_per_pixel) + " is neither 1 nor 3");
        return -1;
    }
    if (info->bits_allocated != 1 && info->bits_allocated % 8 != 0) {
        setError(error, HIL_DICOM_DECODE_FAILED, "Bits Allocated " + std::to_string(info->bits_allocated) + " is not 1 or a multiple of 8");
        return -1;
    }
    if (info->bits_allocated > 32) {
        setError(error, HIL_DICOM_DECODE_FAILED, "Bits Allocated " + std::to_string(info->bits_allocated) + " is over 32");
        return -1;
    }
    return checkSizes(dicom, *info, px, seq, error) ? 0 : -1;
}

int hil_dicom_decode_frame(hil_dicom *dicom, size_t index, uint8_t **out, size_t *out_length, hil_dicom_error *error) {
    clearError(error);
    *out = nullptr;
    *out_length = 0;
    hil_dicom_pixel_info info;
    if (hil_dicom_pixel_info_get(dicom, &info, error) != 0) return -1;
    if (!info.has_pixel_data) { setError(error, HIL_DICOM_DECODE_FAILED, "the instance has no Pixel Data"); return -1; }
    if (index >= (size_t)info.number_of_frames) {
        setError(error, HIL_DICOM_DECODE_FAILED, "frame " + std::to_string(index) + " is out of range (" + std::to_string(info.number_of_frames) + " frames)");
        return -1;
    }
    const size_t pixels = (size_t)info.rows * info.columns;
    const size_t spp = info.samples_per_pixel;
    const size_t bytesPer = bytesPerSample(info);
    std::vector<uint8_t> samples;
    struct Release {
        hil_dicom *d;
        size_t index;
        ~Release() { releaseFrame(d, index); }
    } release{dicom, index};
    std::string photometric = info.photometric;
    try {
        if (info.encapsulated && !checkCodestream(dicom, info, index, error)) return -1;
        DcmPixelData *px = pixelDataElement(dicom);
        DcmDataset *ds = dicom->file.getDataset();
        if (isJPEG2000Family(dicom->transferSyntax)) {
            std::vector<uint8_t> bytes;
            if (!frameBytes(dicom, index, bytes, error)) return -1;
            if (!decodeJPEG2000(bytes, info, samples, error)) return -1;
            // OpenJPEG undoes the codestream's component transform: YBR_RCT / YBR_ICT data comes out as RGB.
            photometric = (photometric == "YBR_RCT" || photometric == "YBR_ICT") ? "RGB" : photometric;
        } else if (info.bits_allocated == 1) {
            if (info.encapsulated) { setError(error, HIL_DICOM_DECODE_FAILED, "1-bit pixel data must be native"); return -1; }
            Uint8 *raw = nullptr;
            if (px->getUint8Array(raw).bad() || !raw) { setError(error, HIL_DICOM_DECODE_FAILED, "cannot read Pixel Data"); return -1; }
            const size_t bits = pixels * spp;
            const size_t first = bits * index;
            if ((first + bits + 7) / 8 > px->getLength()) { setError(error, HIL_DICOM_ELEMENT_LENGTH, "Pixel Data is shorter than its frames"); return -1; }
            samples.resize(bits);
            for (size_t i = 0; i < bits; i++) {
                size_t bit = first + i;
                samples[i] = (raw[bit / 8] >> (bit % 8)) & 1;
            }
        } else if (!info.encapsulated && spp == 3 && std::strcmp(info.photometric, "YBR_FULL_422") == 0 && bytesPer == 1) {
            // Native YBR_FULL_422: each pair of pixels is stored as Y1 Y2 Cb Cr; expanded to Y Cb Cr per pixel
            // (what pydicom's array holds), no colour conversion.
            Uint8 *raw = nullptr;
            if (px->getUint8Array(raw).bad() || !raw) { setError(error, HIL_DICOM_DECODE_FAILED, "cannot read Pixel Data"); return -1; }
            const size_t packed = pixels * 2;
            if ((index + 1) * packed > px->getLength() || info.columns % 2) {
                setError(error, HIL_DICOM_ELEMENT_LENGTH, "YBR_FULL_422 Pixel Data is shorter than its frames");
                return -1;
            }
            const Uint8 *src = raw + index * packed;
            samples.resize(pixels * 3);
            for (size_t pair = 0; pair < pixels / 2; pair++) {
                const Uint8 *q = src + pair * 4;
                Uint8 *o = &samples[pair * 6];
                o[0] = q[0]; o[1] = q[2]; o[2] = q[3];
                o[3] = q[1]; o[4] = q[2]; o[5] = q[3];
            }
            photometric = "YBR_FULL";
        } else {
            Uint32 frameSize = 0;
            if (px->getUncompressedFrameSize(ds, frameSize).bad() || frameSize == 0) {
                setError(error, HIL_DICOM_DECODE_FAILED, "cannot compute the frame size");
                return -1;
            }
            const size_t expected = pixels * spp * bytesPer;
            std::vector<uint8_t> buffer(std::max<size_t>(frameSize + (frameSize & 1), expected) + 1);
            Uint32 startFragment = 0;
            if (info.encapsulated) {
                DcmPixelSequence *seq = nullptr;
                encapsulatedPixels(dicom, seq);
                if (!mapFragments(dicom, seq, (size_t)info.number_of_frames, error)) return -1;
                // DCMTK counts the Basic Offset Table as fragment 0, as frameFragments does.
                startFragment = (Uint32)dicom->frameFragments[index].first;
            } else if ((index + 1) * (size_t)frameSize > px->getLength()) {
                setError(error, HIL_DICOM_ELEMENT_LENGTH, "Pixel Data (" + std::to_string(px->getLength()) + " bytes) is shorter than its " + std::to_string(info.number_of_frames) + " frames");
                return -1;
            }
            OFString colorModel;
            OFCondition cond = px->getUncompressedFrame(ds, (Uint32)index, startFragment, buffer.data(), (Uint32)buffer.size() - 1, colorModel, nullptr);
            if (cond.bad()) {
                int code = (cond == EC_CannotChangeRepresentation || cond == EC_UnsupportedEncoding) ? HIL_DICOM_UNSUPPORTED_TRANSFER_SYNTAX : HIL_DICOM_DECODE_FAILED;
                setError(error, code, std::string("DCMTK could not decode frame ") + std::to_string(index) + ": " + cond.text());
                return -1;
            }
            buffer.resize(expected);
            samples.swap(buffer);
            // > DcmPixelData::getUncompressedFrame: "decompressedColorModel: upon successful return, the color model
            // of the decompressed image (which may be different from the one used in the compressed images)".
            if (!colorModel.empty()) photometric = colorModel.c_str();
            // DCMTK swaps big endian OW data per 16-bit word; a 32-bit sample also needs its two words swapped.
            if (!info.encapsulated && bytesPer == 4 && DcmXfer(ds->getOriginalXfer()).isBigEndian()) {
                for (size_t i = 0; i + 3 < samples.size(); i += 4) {
                    std::swap(samples[i], samples[i + 2]);
                    std::swap(samples[i + 1], samples[i + 3]);
                }
            }
            // Native colour-by-plane data (Planar Configuration 1) is interleaved here; DCMTK's codecs already
            // answer colour-by-pixel for RLE and JPEG.
            if (spp == 3 && info.planar_configuration == 1 && !info.encapsulated) {
                std::vector<uint8_t> interleaved(samples.size());
                for (size_t i = 0; i < pixels; i++)
                    for (size_t c = 0; c < 3; c++)
                        std::memcpy(&interleaved[(i * 3 + c) * bytesPer], &samples[(c * pixels + i) * bytesPer], bytesPer);
                samples.swap(interleaved);
            }
        }
    } catch (const std::bad_alloc &) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory while decoding");
        return -1;
    }
    // Signed samples narrower than their container (Bits Stored < 8 × bytes) are sign-extended from Bits Stored, so
    // every sample holds its value whatever the source left in the high bits (a JPEG 2000 codestream may even
    // declare its components unsigned).
    const int bitsStored = info.bits_stored;
    if (info.pixel_representation == 1 && bitsStored > 0 && bitsStored < (int)bytesPer * 8 && info.bits_allocated > 1) {
        const uint32_t sign = 1u << (bitsStored - 1);
        const uint32_t mask = bitsStored >= 32 ? 0xFFFFFFFFu : ((1u << bitsStored) - 1);
        for (size_t i = 0; i + bytesPer <= samples.size(); i += bytesPer) {
            uint32_t v = 0;
            for (size_t b = 0; b < bytesPer; b++) v |= (uint32_t)samples[i + b] << (8 * b);
            v &= mask;
            if (v & sign) v |= ~mask;
            for (size_t b = 0; b < bytesPer; b++) samples[i + b] = (uint8_t)(v >> (8 * b));
        }
    }
    uint8_t *buffer = static_cast<uint8_t *>(std::malloc(samples.empty() ? 1 : samples.size()));
    if (!buffer) { setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory"); return -1; }
    if (!samples.empty()) std::memcpy(buffer, samples.data(), samples.size());
    *out = buffer;
    *out_length = samples.size();
    dicom->decodedPhotometric = photometric;
    return 0;
}

const char *hil_dicom_decoded_photometric(const hil_dicom *dicom) { return dicom->decodedPhotometric.c_str(); }

int hil_dicom_encoded_frame(hil_dicom *dicom, size_t index, uint8_t **out, size_t *out_length, hil_dicom_error *error) {
    clearError(error);
    *out = nullptr;
    *out_length = 0;
    std::vector<uint8_t> bytes;
    struct Release {
        hil_dicom *d;
        size_t index;
        ~Release() { releaseFrame(d, index); }
    } release{dicom, index};
    try {
        if (!frameBytes(dicom, index, bytes, error)) return -1;
    } catch (const std::bad_alloc &) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    uint8_t *buffer = static_cast<uint8_t *>(std::malloc(bytes.empty() ? 1 : bytes.size()));
    if (!buffer) { setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory"); return -1; }
    if (!bytes.empty()) std::memcpy(buffer, bytes.data(), bytes.size());
    *out = buffer;
    *out_length = bytes.size();
    return 0;
}

void hil_dicom_free(void *buffer) { std::free(buffer); }

}  // extern "C"
