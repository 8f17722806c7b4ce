// The writing side of CDICOM (see include/cdicom_write.h for the contract and buffer ownership).
#include "cdicom_write.h"
#include "Errors.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace {

using hil::clearError;
using hil::setError;

std::once_flag quietOnce;
void quiet() {
    // > OFLog::configure: "set up the logging and enable it", level OFF_LOG_LEVEL silences every logger.
    std::call_once(quietOnce, [] { OFLog::configure(OFLogger::OFF_LOG_LEVEL); });
}

void copyVR(const DcmVR &vr, char out[3]) {
    // > DcmVR::getValidVRName: "get symbolic standard VR name for this object. If VR is one of the special
    // > internal VRs (e.g. 'xs' or 'ox') the name of a valid VR is returned instead."
    const char *name = vr.getValidVRName();
    out[0] = name && name[0] ? name[0] : 'U';
    out[1] = name && name[0] ? name[1] : 'N';
    out[2] = 0;
}

bool isNative(const std::string &uid) {
    return uid == UID_LittleEndianImplicitTransferSyntax || uid == UID_LittleEndianExplicitTransferSyntax ||
           uid == UID_BigEndianExplicitTransferSyntax;
}

unsigned hexValue(const char *text, size_t length) {
    unsigned value = 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        value <<= 4;
        if (c >= '0' && c <= '9') value |= unsigned(c - '0');
        else if (c >= 'a' && c <= 'f') value |= unsigned(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') value |= unsigned(c - 'A' + 10);
    }
    return value;
}

}  // namespace

struct hil_dicom_writer {
    DcmFileFormat file;
    std::vector<DcmItem *> items;               // innermost last; items[0] is the dataset
    std::vector<DcmSequenceOfItems *> sequences;
    std::vector<std::vector<uint8_t>> frames;  // encapsulated frames, in order
    bool encapsulated = false;
};

extern "C" {

int hil_dicom_dictionary_keyword(const char *keyword, uint16_t *group, uint16_t *element, char vr[3]) {
    quiet();
    // > DcmDataDictionary::findEntry(const char *name): "find the entry with the given name"; the global dictionary
    // > is read under rdlock / rdunlock.
    const DcmDataDictionary &dictionary = dcmDataDict.rdlock();
    const DcmDictEntry *entry = dictionary.findEntry(keyword);
    int result = -1;
    if (entry && !entry->isRepeating()) {
        *group = entry->getGroup();
        *element = entry->getElement();
        copyVR(entry->getVR(), vr);
        result = 0;
    }
    dcmDataDict.rdunlock();
    return result;
}

int hil_dicom_dictionary_tag(uint16_t group, uint16_t element, char *keyword, size_t capacity, char vr[3]) {
    quiet();
    const DcmDataDictionary &dictionary = dcmDataDict.rdlock();
    const DcmDictEntry *entry = dictionary.findEntry(DcmTagKey(group, element), NULL);
    int result = -1;
    if (capacity > 0) keyword[0] = 0;
    vr[0] = 'U'; vr[1] = 'N'; vr[2] = 0;
    if (entry) {
        if (capacity > 0 && entry->getTagName()) std::snprintf(keyword, capacity, "%s", entry->getTagName());
        copyVR(entry->getVR(), vr);
        result = 0;
    }
    dcmDataDict.rdunlock();
    return result;
}

hil_dicom_writer *hil_dicom_writer_new(void) {
    quiet();
    hil_dicom_writer *writer = new (std::nothrow) hil_dicom_writer();
    if (writer) writer->items.push_back(writer->file.getDataset());
    return writer;
}

void hil_dicom_writer_free(hil_dicom_writer *writer) { delete writer; }

static DcmElement *makeElement(hil_dicom_writer *writer, uint16_t group, uint16_t element, const char *vr,
                               hil_dicom_error *error) {
    DcmTag tag(group, element, DcmVR(vr));
    DcmElement *made = NULL;
    // > DcmItem::newDicomElementWithVR: "creates new DICOM element from given attribute tag and VR".
    OFCondition status = DcmItem::newDicomElementWithVR(made, tag);
    if (status.bad() || !made) {
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, std::string("cannot make element: ") + status.text());
        return NULL;
    }
    return made;
}

static int insert(hil_dicom_writer *writer, DcmElement *made, hil_dicom_error *error) {
    // > DcmItem::insert(elem, replaceOld): the item takes ownership of elem on success.
    OFCondition status = writer->items.back()->insert(made, OFTrue);
    if (status.bad()) {
        delete made;
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, std::string("cannot insert element: ") + status.text());
        return -1;
    }
    clearError(error);
    return 0;
}

int hil_dicom_writer_put_text(hil_dicom_writer *writer, uint16_t group, uint16_t element, const char *vr,
                              const char *text, size_t length, hil_dicom_error *error) {
    DcmElement *made = makeElement(writer, group, element, vr, error);
    if (!made) return -1;
    OFCondition status = EC_Normal;
    if (std::strcmp(vr, "AT") == 0) {
        // "GGGGEEEE" values separated by backslashes.
        unsigned long position = 0;
        size_t start = 0;
        while (start + 8 <= length && status.good()) {
            DcmTagKey key(Uint16(hexValue(text + start, 4)), Uint16(hexValue(text + start + 4, 4)));
            status = made->putTagVal(key, position++);
            start += 9;
        }
    } else if (length > 0) {
        // > DcmElement::putOFStringArray: "replace the element value by a copy of the given string (which is
        // > possibly multi-valued)"; numeric VRs parse their decimal text.
        status = made->putOFStringArray(OFString(text, length));
    }
    if (status.bad()) {
        delete made;
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, std::string("cannot set value: ") + status.text());
        return -1;
    }
    return insert(writer, made, error);
}

int hil_dicom_writer_put_bytes(hil_dicom_writer *writer, uint16_t group, uint16_t element, const char *vr,
                               const uint8_t *bytes, size_t length, hil_dicom_error *error) {
    DcmElement *made = makeElement(writer, group, element, vr, error);
    if (!made) return -1;
    if (dynamic_cast<DcmPixelData *>(made) != NULL) {
        // DCMTK makes pixel-data-like elements (e.g. overlay data) DcmPixelData, which then refuses to be written in
        // an encapsulated syntax; any binary attribute here is plain OB / OW.
        delete made;
        made = new (std::nothrow) DcmOtherByteOtherWord(DcmTag(group, element, DcmVR(vr)));
        if (!made) {
            setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory");
            return -1;
        }
    }
    OFCondition status = EC_Normal;
    if (length > 0) {
        std::string name(vr);
        if (name == "OW" && length % 2 == 0) {
            std::vector<Uint16> words(length / 2);
            for (size_t i = 0; i < words.size(); i++) words[i] = Uint16(bytes[2 * i] | bytes[2 * i + 1] << 8);
            status = made->putUint16Array(words.data(), static_cast<unsigned long>(words.size()));
        } else if ((name == "OF" || name == "OL") && length % 4 == 0) {
            std::vector<Uint32> words(length / 4);
            for (size_t i = 0; i < words.size(); i++)
                words[i] = Uint32(bytes[4 * i]) | Uint32(bytes[4 * i + 1]) << 8 | Uint32(bytes[4 * i + 2]) << 16 |
                           Uint32(bytes[4 * i + 3]) << 24;
            status = name == "OF" ? made->putFloat32Array(reinterpret_cast<Float32 *>(words.data()), words.size())
                                  : made->putUint32Array(words.data(), words.size());
        } else if ((name == "OD" || name == "OV") && length % 8 == 0) {
            std::vector<Uint8> copy(bytes, bytes + length);  // little-endian host assumed for 64-bit words
            status = name == "OD" ? made->putFloat64Array(reinterpret_cast<Float64 *>(copy.data()), length / 8)
                                  : made->putUint8Array(copy.data(), length);
        } else {
            status = made->putUint8Array(bytes, length);
        }
    }
    if (status.bad()) {
        delete made;
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, std::string("cannot set bytes: ") + status.text());
        return -1;
    }
    return insert(writer, made, error);
}

int hil_dicom_writer_begin_sequence(hil_dicom_writer *writer, uint16_t group, uint16_t element, hil_dicom_error *error) {
    DcmSequenceOfItems *sequence = new (std::nothrow) DcmSequenceOfItems(DcmTag(group, element, EVR_SQ));
    if (!sequence) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    OFCondition status = writer->items.back()->insert(sequence, OFTrue);
    if (status.bad()) {
        delete sequence;
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, std::string("cannot insert sequence: ") + status.text());
        return -1;
    }
    writer->sequences.push_back(sequence);
    clearError(error);
    return 0;
}

int hil_dicom_writer_begin_item(hil_dicom_writer *writer, hil_dicom_error *error) {
    if (writer->sequences.empty()) {
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, "item outside a sequence");
        return -1;
    }
    DcmItem *item = new (std::nothrow) DcmItem();
    if (!item) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    writer->sequences.back()->insert(item);
    writer->items.push_back(item);
    clearError(error);
    return 0;
}

int hil_dicom_writer_end_item(hil_dicom_writer *writer, hil_dicom_error *error) {
    if (writer->items.size() <= 1) {
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, "no open item");
        return -1;
    }
    writer->items.pop_back();
    clearError(error);
    return 0;
}

int hil_dicom_writer_end_sequence(hil_dicom_writer *writer, hil_dicom_error *error) {
    if (writer->sequences.empty()) {
        setError(error, HIL_DICOM_MISSING_ATTRIBUTE, "no open sequence");
        return -1;
    }
    writer->sequences.pop_back();
    clearError(error);
    return 0;
}

int hil_dicom_writer_native_pixels(hil_dicom_writer *writer, const uint8_t *bytes, size_t length, int bits_allocated,
                                   hil_dicom_error *error) {
    DcmPixelData *pixels = new (std::nothrow) DcmPixelData(DcmTag(DCM_PixelData, bits_allocated > 8 ? EVR_OW : EVR_OB));
    if (!pixels) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    OFCondition status;
    if (bits_allocated > 8 && length % 2 == 0) {
        std::vector<Uint16> words(length / 2);
        for (size_t i = 0; i < words.size(); i++) words[i] = Uint16(bytes[2 * i] | bytes[2 * i + 1] << 8);
        status = pixels->putUint16Array(words.data(), words.size());
    } else {
        status = pixels->putUint8Array(bytes, length);
    }
    if (status.bad()) {
        delete pixels;
        setError(error, HIL_DICOM_DECODE_FAILED, std::string("cannot set pixel data: ") + status.text());
        return -1;
    }
    return insert(writer, pixels, error);
}

int hil_dicom_writer_add_frame(hil_dicom_writer *writer, const uint8_t *bytes, size_t length, hil_dicom_error *error) {
    writer->encapsulated = true;
    writer->frames.emplace_back(bytes, bytes + length);
    clearError(error);
    return 0;
}

int hil_dicom_writer_finish(hil_dicom_writer *writer, const char *transfer_syntax, uint8_t **out, size_t *out_length,
                            hil_dicom_error *error) {
    std::string uid(transfer_syntax);
    DcmXfer known(uid.c_str());
    E_TransferSyntax xfer = known.getXfer();
    bool patchUID = false;
    if (isNative(uid)) {
        if (writer->encapsulated) {
            setError(error, HIL_DICOM_UNSUPPORTED_TRANSFER_SYNTAX, "encapsulated frames need an encapsulated syntax");
            return -1;
        }
    } else {
        if (xfer == EXS_Unknown || !known.isEncapsulated()) {
            // Same byte encoding (explicit VR little endian, encapsulated pixel data); the UID is set afterwards.
            xfer = EXS_JPEG2000LosslessOnly;
            patchUID = true;
        }
        if (writer->encapsulated) {
            DcmPixelSequence *sequence = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
            sequence->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));  // empty Basic Offset Table
            for (auto &frame : writer->frames) {
                DcmPixelItem *item = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
                item->putUint8Array(frame.data(), frame.size());
                sequence->insert(item);
            }
            DcmPixelData *pixels = new DcmPixelData(DCM_PixelData);
            // > DcmPixelData::putOriginalRepresentation: "insert an original encapsulated representation".
            pixels->putOriginalRepresentation(xfer, NULL, sequence);
            if (insert(writer, pixels, error) != 0) return -1;
        }
    }
    std::vector<uint8_t> bytes;
    std::vector<uint8_t> chunk(1 << 20);
    DcmOutputBufferStream stream(chunk.data(), chunk.size());
    writer->file.transferInit();
    OFCondition status = EC_StreamNotifyClient;
    // > DcmFileFormat::write: writes preamble, meta header (validated and completed from the dataset: media storage
    // > SOP class / instance, transfer syntax) and dataset; EC_StreamNotifyClient means "buffer full, call again".
    while (status == EC_StreamNotifyClient) {
        status = writer->file.write(stream, xfer, EET_ExplicitLength, NULL);
        void *data = NULL;
        offile_off_t length = 0;
        stream.flushBuffer(data, length);
        if (length > 0) bytes.insert(bytes.end(), static_cast<uint8_t *>(data), static_cast<uint8_t *>(data) + length);
    }
    writer->file.transferEnd();
    if (status.bad()) {
        setError(error, HIL_DICOM_INVALID_FILE, std::string("cannot write Part 10: ") + status.text());
        return -1;
    }
    if (patchUID) {
        // Meta header: 128-byte preamble, "DICM", then explicit VR little endian elements of group 0002, the first
        // being (0002,0000) UL group length. Replace (0002,0010)'s value and fix the group length.
        std::string value = uid;
        if (value.size() % 2) value.push_back('\0');
        size_t position = 132;
        size_t groupLengthAt = 0;
        bool patched = false;
        while (position + 8 <= bytes.size()) {
            uint16_t g = uint16_t(bytes[position] | bytes[position + 1] << 8);
            uint16_t e = uint16_t(bytes[position + 2] | bytes[position + 3] << 8);
            if (g != 0x0002) break;
            std::string vr(reinterpret_cast<char *>(&bytes[position + 4]), 2);
            bool longForm = vr == "OB" || vr == "OW" || vr == "UN" || vr == "SQ" || vr == "UT" || vr == "UC" || vr == "UR";
            size_t header = longForm ? 12 : 8;
            size_t length = longForm ? size_t(bytes[position + 8] | bytes[position + 9] << 8 | bytes[position + 10] << 16 |
                                              uint32_t(bytes[position + 11]) << 24)
                                     : size_t(bytes[position + 6] | bytes[position + 7] << 8);
            if (e == 0x0000) groupLengthAt = position + 8;
            if (e == 0x0010) {
                long delta = long(value.size()) - long(length);
                bytes.erase(bytes.begin() + long(position + header), bytes.begin() + long(position + header + length));
                bytes.insert(bytes.begin() + long(position + header), value.begin(), value.end());
                bytes[position + 6] = uint8_t(value.size() & 0xFF);
                bytes[position + 7] = uint8_t(value.size() >> 8);
                if (groupLengthAt) {
                    uint32_t total = uint32_t(bytes[groupLengthAt] | bytes[groupLengthAt + 1] << 8 |
                                              bytes[groupLengthAt + 2] << 16 | uint32_t(bytes[groupLengthAt + 3]) << 24);
                    total = uint32_t(long(total) + delta);
                    for (int i = 0; i < 4; i++) bytes[groupLengthAt + i] = uint8_t(total >> (8 * i));
                }
                patched = true;
                break;
            }
            position += header + length;
        }
        if (!patched) {
            setError(error, HIL_DICOM_INVALID_FILE, "written file has no (0002,0010)");
            return -1;
        }
    }
    uint8_t *buffer = static_cast<uint8_t *>(std::malloc(bytes.size() ? bytes.size() : 1));
    if (!buffer) {
        setError(error, HIL_DICOM_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    if (!bytes.empty()) std::memcpy(buffer, bytes.data(), bytes.size());
    *out = buffer;
    *out_length = bytes.size();
    clearError(error);
    return 0;
}

}  // extern "C"
