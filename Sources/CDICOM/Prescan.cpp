// See Prescan.hpp.
#include "Prescan.hpp"
#include "Errors.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctag.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace hil {

namespace {

// ---- The walk ----------------------------------------------------------------------------------------------------

std::string tagText(uint16_t group, uint16_t element) {
    char text[16];
    std::snprintf(text, sizeof text, "(%04X,%04X)", group, element);
    return text;
}

bool isVRLetter(uint8_t c) { return c >= 'A' && c <= 'Z'; }

/// Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 §7.1.2, Table 7.1-1).
bool hasLongLength(const char vr[2]) {
    static const char *const longs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
    for (const char *l : longs)
        if (vr[0] == l[0] && vr[1] == l[1]) return true;
    return false;
}

bool dictionarySaysSequence(uint16_t group, uint16_t element) {
    DcmTag tag(group, element);
    return tag.getEVR() == EVR_SQ;
}

struct Encoding {
    bool implicit;
    bool bigEndian;
};

uint16_t u16(const uint8_t *p, bool big) { return big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]); }
uint32_t u32(const uint8_t *p, bool big) {
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

constexpr uint32_t undefinedLength = 0xFFFFFFFFu;

enum class Container { dataset, sequence, item, fragments };

struct Frame {
    Container kind;
    uint64_t end;  // position where a defined-length container ends; ByteSource::unknown when undefined
    Encoding encoding;
};

class Walker {
public:
    Walker(ByteSource &source, const ScanLimits &limits, hil_dicom_error *error)
        : in_(source), limits_(limits), error_(error) {}

    bool run(Encoding encoding) {
        uint64_t left = in_.remaining();
        stack_.push_back({Container::dataset, left == ByteSource::unknown ? ByteSource::unknown : in_.position() + left, encoding});
        while (!stack_.empty()) {
            Frame &top = stack_.back();
            uint64_t at = in_.position();
            if (top.end != ByteSource::unknown && at >= top.end) {
                if (at > top.end) return lengthError("an element runs past the end of its " + containerName(top.kind));
                if (top.kind == Container::item && stack_.size() >= 2) {
                    stack_.pop_back();
                    continue;
                }
                if (top.kind == Container::sequence) depth_--;
                stack_.pop_back();
                continue;
            }
            uint8_t head[8];
            if (top.kind != Container::dataset && in_.remaining() == 0) {
                // An undefined-length sequence or item the file ends inside: DCMTK reads what is there.
                return true;
            }
            if (!in_.read(head, 4)) {
                if (in_.failure()) return sourceFailure();
                // Fewer than 4 bytes after the last element (padding): DCMTK stops there as well.
                return true;
            }
            const uint16_t group = u16(head, top.encoding.bigEndian);
            const uint16_t element = u16(head + 2, top.encoding.bigEndian);
            if (++elements_ > limits_.maxElements)
                return limit("the file holds more than " + std::to_string(limits_.maxElements) + " elements and items");
            if (group == 0xFFFE) {
                if (!delimiterOrItem(element, top)) return false;
                continue;
            }
            if (top.kind == Container::sequence || top.kind == Container::fragments)
                return invalid("element " + tagText(group, element) + " where a sequence item was expected");
            if (!element_(group, element, top)) return false;
        }
        return true;
    }

private:
    bool delimiterOrItem(uint16_t element, Frame top) {
        uint8_t raw[4];
        if (!in_.read(raw, 4)) return lengthError("the file ends inside an item tag");
        const uint32_t length = u32(raw, top.encoding.bigEndian);
        if (element == 0xE000) {  // Item
            if (top.kind == Container::fragments) {
                if (length == undefinedLength) return lengthError("an encapsulated Pixel Data fragment has an undefined length");
                if (!fits(length, "an encapsulated Pixel Data fragment")) return false;
                return in_.skip(length) || lengthError("an encapsulated Pixel Data fragment runs past the end of the data");
            }
            if (top.kind != Container::sequence) return invalid("a sequence item outside any sequence");
            if (length == undefinedLength) {
                stack_.push_back({Container::item, ByteSource::unknown, top.encoding});
                return true;
            }
            uint64_t clamped = length;
            if (!fitsContainer(clamped, "a sequence item")) return false;
            stack_.push_back({Container::item, in_.position() + clamped, top.encoding});
            return true;
        }
        if (element == 0xE00D) {  // Item Delimitation Item
            if (top.kind != Container::item) return invalid("an item delimiter outside any item");
            stack_.pop_back();
            return true;
        }
        if (element == 0xE0DD) {  // Sequence Delimitation Item
            if (top.kind == Container::sequence || top.kind == Container::fragments) {
                if (top.kind == Container::sequence) depth_--;
                stack_.pop_back();
                return true;
            }
            if (top.kind == Container::item && top.end == ByteSource::unknown && stack_.size() >= 2 &&
                stack_[stack_.size() - 2].kind == Container::sequence && stack_[stack_.size() - 2].end == ByteSource::unknown) {
                // An item left open by its writer: the sequence's delimiter closes both (DCMTK reads it so).
                stack_.pop_back();
                stack_.pop_back();
                depth_--;
                return true;
            }
            return invalid("a sequence delimiter outside any sequence");
        }
        // (FFFE,xxxx) other than the three delimiters: an element of group FFFE, which PS3.5 reserves.
        return invalid("element " + tagText(0xFFFE, element) + " (group FFFE holds only items and delimiters)");
    }

    bool element_(uint16_t group, uint16_t element, const Frame &top) {
        char vr[2] = {0, 0};
        uint32_t length = 0;
        bool explicitVR = !top.encoding.implicit;
        if (explicitVR) {
            uint8_t raw[4];
            if (!in_.read(raw, 4)) return lengthError("the file ends inside element " + tagText(group, element));
            vr[0] = (char)raw[0];
            vr[1] = (char)raw[1];
            if (!isVRLetter(raw[0]) || !isVRLetter(raw[1]))
                return invalid("element " + tagText(group, element) + " has no valid VR");
            if (hasLongLength(vr)) {
                uint8_t more[4];
                if (!in_.read(more, 4)) return lengthError("the file ends inside element " + tagText(group, element));
                length = u32(more, top.encoding.bigEndian);
            } else {
                length = u16(raw + 2, top.encoding.bigEndian);
            }
        } else {
            uint8_t raw[4];
            if (!in_.read(raw, 4)) return lengthError("the file ends inside element " + tagText(group, element));
            length = u32(raw, top.encoding.bigEndian);
        }
        const bool pixelData = group == 0x7FE0 && element == 0x0010;
        const bool sq = explicitVR ? (vr[0] == 'S' && vr[1] == 'Q') : dictionarySaysSequence(group, element);
        const bool un = explicitVR && vr[0] == 'U' && vr[1] == 'N';
        std::string what = "element " + tagText(group, element) + (explicitVR ? std::string(" (") + vr[0] + vr[1] + ")" : "");
        if (length == undefinedLength) {
            if (pixelData && (!explicitVR || (vr[0] == 'O' && (vr[1] == 'B' || vr[1] == 'W')) || un)) {
                stack_.push_back({Container::fragments, ByteSource::unknown, top.encoding});
                return true;
            }
            // Undefined length: SQ (§7.5.1), UN holding a sequence (§6.2.2 note), and in implicit VR any element DCMTK
            // then reads as a sequence (private ones included).
            if (sq || un || !explicitVR) return pushSequence(ByteSource::unknown, un ? Encoding{true, false} : top.encoding, what);
            return lengthError(what + " has an undefined length, which only SQ, UN and encapsulated Pixel Data may have");
        }
        // A defined-length value DCMTK parses as a sequence: SQ, or UN / implicit VR where the dictionary says SQ.
        if (sq || (un && dictionarySaysSequence(group, element))) {
            uint64_t clamped = length;
            if (!fitsContainer(clamped, what)) return false;
            return pushSequence(in_.position() + clamped, un ? Encoding{true, false} : top.encoding, what);
        }
        if (!fits(length, what)) return false;
        if (!in_.skip(length)) {
            if (in_.failure()) return sourceFailure();
            return lengthError(what + " declares " + std::to_string(length) + " bytes, past the end of the data");
        }
        return true;
    }

    bool pushSequence(uint64_t end, Encoding encoding, const std::string &what) {
        if (++depth_ > (int)limits_.maxDepth)
            return limit(what + " nests sequences more than " + std::to_string(limits_.maxDepth) + " levels deep");
        stack_.push_back({Container::sequence, end, encoding});
        return true;
    }

    /// `length` more bytes fit in every enclosing defined-length container and in the data.
    bool fits(uint64_t length, const std::string &what) {
        const uint64_t at = in_.position();
        for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) {
            if (it->end == ByteSource::unknown) continue;
            if (at > it->end || length > it->end - at)
                return lengthError(what + " declares " + std::to_string(length) + " bytes but its " + containerName(it->kind) +
                                   " has " + std::to_string(at > it->end ? 0 : it->end - at) + " left");
            break;  // an inner end never exceeds an outer one (checked when the inner one was pushed)
        }
        uint64_t left = in_.remaining();
        if (left != ByteSource::unknown && length > left)
            return lengthError(what + " declares " + std::to_string(length) + " bytes but the file has " + std::to_string(left) + " left");
        return true;
    }

    /// For a sequence or an item: a declared end past the end of the data is taken as the end of the data (a file
    /// cut short inside a sequence, which DCMTK reads as far as it goes — no allocation depends on a container's
    /// length); past the end of an enclosing container that is itself inside the data, it is a lie.
    bool fitsContainer(uint64_t &length, const std::string &what) {
        const uint64_t left = in_.remaining();
        if (left != ByteSource::unknown && length > left) length = left;
        return fits(length, what);
    }

    static std::string containerName(Container kind) {
        switch (kind) {
        case Container::dataset: return "dataset";
        case Container::sequence: return "sequence";
        case Container::item: return "item";
        case Container::fragments: return "Pixel Data";
        }
        return "container";
    }

    bool sourceFailure() { return in_.overLimit() ? limit(in_.failure()) : invalid(in_.failure()); }
    bool lengthError(const std::string &message) { setError(error_, HIL_DICOM_ELEMENT_LENGTH, message); return false; }
    bool invalid(const std::string &message) { setError(error_, HIL_DICOM_INVALID_FILE, message); return false; }
    bool limit(const std::string &message) { setError(error_, HIL_DICOM_LIMIT, message); return false; }

    ByteSource &in_;
    ScanLimits limits_;
    hil_dicom_error *error_;
    std::vector<Frame> stack_;
    int depth_ = 0;
    uint64_t elements_ = 0;
};

/// The File Meta Information (group 0002, explicit VR little endian, PS3.10 §7.1); leaves the source at the first
/// dataset byte and returns the Transfer Syntax UID.
bool readMeta(ByteSource &in, std::string &transferSyntax, hil_dicom_error *error) {
    uint8_t head[8];
    while (in.peek(head, 8) == 8) {
        const uint16_t group = u16(head, false);
        if (group != 0x0002) break;
        const uint16_t element = u16(head + 2, false);
        uint32_t length;
        if (isVRLetter(head[4]) && isVRLetter(head[5])) {
            char vr[2] = {(char)head[4], (char)head[5]};
            in.skip(8);
            if (hasLongLength(vr)) {
                uint8_t more[4];
                if (!in.read(more, 4)) { setError(error, HIL_DICOM_ELEMENT_LENGTH, "the file ends inside the meta header"); return false; }
                length = u32(more, false);
            } else {
                length = u16(head + 6, false);
            }
        } else {
            in.skip(8);
            length = u32(head + 4, false);
        }
        if (length == undefinedLength || length > in.remaining()) {
            setError(error, HIL_DICOM_ELEMENT_LENGTH, "meta header element " + tagText(group, element) + " declares " +
                     std::to_string(length) + " bytes, past the end of the data");
            return false;
        }
        if (element == 0x0010 && length <= 256) {
            char uid[257] = {0};
            in.read((uint8_t *)uid, length);
            transferSyntax.assign(uid, length);
            while (!transferSyntax.empty() && (transferSyntax.back() == 0 || transferSyntax.back() == ' ')) transferSyntax.pop_back();
        } else {
            in.skip(length);
        }
    }
    return true;
}

}  // namespace

bool prescan(ByteSource &source, const ScanLimits &limits, std::string &transferSyntax, hil_dicom_error *error) {
    uint8_t preamble[4];
    if (!source.skip(128) || !source.read(preamble, 4) || std::memcmp(preamble, "DICM", 4) != 0) {
        setError(error, HIL_DICOM_INVALID_FILE, "not a DICOM Part 10 file: no \"DICM\" prefix after the 128-byte preamble");
        return false;
    }
    if (!readMeta(source, transferSyntax, error)) return false;
    const std::string &ts = transferSyntax;
    if (ts == "1.2.840.10008.1.2.1.99") {
        InflateSource inflated(source, limits.maxInflatedBytes);
        Walker walker(inflated, limits, error);
        return walker.run({false, false});
    }
    // The encoding the dataset is written in: the meta header's transfer syntax, but (as DCMTK) what the first
    // element looks like decides explicit vs implicit VR when they disagree.
    Encoding encoding{ts == "1.2.840.10008.1.2", ts == "1.2.840.10008.1.2.2"};
    uint8_t first[6];
    if (source.peek(first, 6) == 6) encoding.implicit = !(isVRLetter(first[4]) && isVRLetter(first[5]));
    Walker walker(source, limits, error);
    return walker.run(encoding);
}

}  // namespace hil
