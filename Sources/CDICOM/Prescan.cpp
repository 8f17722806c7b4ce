// See Prescan.hpp.
#include "Prescan.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctag.h>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace hil {

// ---- Sources -----------------------------------------------------------------------------------------------------

bool MemorySource::read(uint8_t *out, size_t n) {
    if (n > length_ - position_) return false;
    std::memcpy(out, data_ + position_, n);
    position_ += n;
    return true;
}

size_t MemorySource::peek(uint8_t *out, size_t n) {
    size_t count = std::min(n, length_ - position_);
    std::memcpy(out, data_ + position_, count);
    return count;
}

bool MemorySource::skip(uint64_t n) {
    if (n > length_ - position_) return false;
    position_ += (size_t)n;
    return true;
}

bool FileSource::fill(size_t need) {
    // Keeps [at_, at_ + need) in the buffer when the file has those bytes.
    if (at_ >= bufferAt_ && at_ + need <= bufferAt_ + buffered_) return true;
    if (need > end_ - at_) return false;
    size_t want = (size_t)std::min<uint64_t>(sizeof buffer_, end_ - at_);
    size_t got = 0;
    while (got < want) {
        // > pread: "reads up to count bytes from file descriptor fd at offset offset"; returns 0 at end of file,
        // -1 with errno on error (man 2 pread).
        ssize_t n = ::pread(fd_, buffer_ + got, want - got, (off_t)(at_ + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { failed_ = true; break; }
        if (n == 0) break;
        got += (size_t)n;
    }
    bufferAt_ = at_;
    buffered_ = got;
    return got >= need;
}

bool FileSource::read(uint8_t *out, size_t n) {
    if (n > end_ - at_) return false;
    if (n > sizeof buffer_) {
        size_t got = 0;
        while (got < n) {
            ssize_t r = ::pread(fd_, out + got, n - got, (off_t)(at_ + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) { failed_ = r < 0; return false; }
            got += (size_t)r;
        }
        at_ += n;
        return true;
    }
    if (!fill(n)) return false;
    std::memcpy(out, buffer_ + (at_ - bufferAt_), n);
    at_ += n;
    return true;
}

size_t FileSource::peek(uint8_t *out, size_t n) {
    n = (size_t)std::min<uint64_t>(n, end_ - at_);
    if (!fill(n)) return 0;
    std::memcpy(out, buffer_ + (at_ - bufferAt_), n);
    return n;
}

bool FileSource::skip(uint64_t n) {
    if (n > end_ - at_) return false;
    at_ += n;
    return true;
}

namespace {

/// The raw-deflate rest of another source (Deflated Explicit VR Little Endian, PS3.5 §A.5), inflated as it is read;
/// at most `cap` inflated bytes (a deflate bomb is refused before DCMTK would hold it all).
class InflateSource : public ByteSource {
public:
    InflateSource(ByteSource &in, uint64_t cap) : in_(in), cap_(cap) {
        std::memset(&z_, 0, sizeof z_);
        // > inflateInit2: windowBits -8..-15 for raw deflate "with no zlib header or trailer" (zlib.h).
        ok_ = inflateInit2(&z_, -MAX_WBITS) == Z_OK;
    }
    ~InflateSource() override { if (ok_) inflateEnd(&z_); }
    bool read(uint8_t *out, size_t n) override {
        size_t done = 0;
        while (done < n) {
            if (head_ == tail_ && !more()) return false;
            size_t take = std::min(n - done, tail_ - head_);
            std::memcpy(out + done, window_ + head_, take);
            head_ += take;
            done += take;
            position_ += take;
        }
        return true;
    }
    size_t peek(uint8_t *out, size_t n) override {
        while (tail_ - head_ < n) {
            if (head_ > 0) { std::memmove(window_, window_ + head_, tail_ - head_); tail_ -= head_; head_ = 0; }
            if (!more(true)) break;
        }
        size_t count = std::min(n, tail_ - head_);
        std::memcpy(out, window_ + head_, count);
        return count;
    }
    bool skip(uint64_t n) override {
        while (n > 0) {
            if (head_ == tail_ && !more()) return false;
            size_t take = (size_t)std::min<uint64_t>(n, tail_ - head_);
            head_ += take;
            n -= take;
            position_ += take;
        }
        return true;
    }
    uint64_t position() const override { return position_; }
    uint64_t remaining() const override { return (ended_ && head_ == tail_) ? 0 : unknown; }
    const char *failure() const override { return failure_; }

private:
    /// Inflates more into the window (appending when `keep`, else replacing it).
    bool more(bool keep = false) {
        if (!ok_ || ended_) return false;
        if (!keep) { head_ = tail_ = 0; }
        while (tail_ < sizeof window_) {
            if (z_.avail_in == 0) {
                uint64_t left = in_.remaining();
                size_t take = (size_t)std::min<uint64_t>(sizeof input_, left);
                if (take == 0 || !in_.read(input_, take)) { ended_ = true; break; }
                z_.next_in = input_;
                z_.avail_in = (uInt)take;
            }
            z_.next_out = window_ + tail_;
            z_.avail_out = (uInt)(sizeof window_ - tail_);
            int rc = inflate(&z_, Z_NO_FLUSH);
            size_t produced = (sizeof window_ - tail_) - z_.avail_out;
            tail_ += produced;
            inflated_ += produced;
            if (inflated_ > cap_) { failure_ = "the deflated dataset inflates past the limit"; ended_ = true; return false; }
            if (rc == Z_STREAM_END) { ended_ = true; break; }
            if (rc != Z_OK && rc != Z_BUF_ERROR) { failure_ = "the deflated dataset is corrupt"; ended_ = true; return false; }
            if (produced > 0) break;
        }
        return tail_ > head_;
    }

    ByteSource &in_;
    uint64_t cap_;
    z_stream z_;
    bool ok_ = false;
    bool ended_ = false;
    const char *failure_ = nullptr;
    uint8_t input_[1 << 14];
    uint8_t window_[1 << 16];
    size_t head_ = 0, tail_ = 0;
    uint64_t position_ = 0, inflated_ = 0;
};

// ---- The walk ----------------------------------------------------------------------------------------------------

void fail(hil_dicom_error *error, int code, const std::string &message) {
    if (!error) return;
    error->code = code;
    std::snprintf(error->message, sizeof error->message, "%s", message.c_str());
}

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
                if (in_.failure()) return invalid(in_.failure());
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
            if (!fits(length, "a sequence item")) return false;
            stack_.push_back({Container::item, in_.position() + length, top.encoding});
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
        if (!fits(length, what)) return false;
        // A defined-length value DCMTK parses as a sequence: SQ, or UN / implicit VR where the dictionary says SQ.
        if (sq || (un && dictionarySaysSequence(group, element)))
            return pushSequence(in_.position() + length, un ? Encoding{true, false} : top.encoding, what);
        if (!in_.skip(length)) {
            if (in_.failure()) return invalid(in_.failure());
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

    static std::string containerName(Container kind) {
        switch (kind) {
        case Container::dataset: return "dataset";
        case Container::sequence: return "sequence";
        case Container::item: return "item";
        case Container::fragments: return "Pixel Data";
        }
        return "container";
    }

    bool lengthError(const std::string &message) { fail(error_, HIL_DICOM_ELEMENT_LENGTH, message); return false; }
    bool invalid(const std::string &message) { fail(error_, HIL_DICOM_INVALID_FILE, message); return false; }
    bool limit(const std::string &message) { fail(error_, HIL_DICOM_LIMIT, message); return false; }

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
                if (!in.read(more, 4)) { fail(error, HIL_DICOM_ELEMENT_LENGTH, "the file ends inside the meta header"); return false; }
                length = u32(more, false);
            } else {
                length = u16(head + 6, false);
            }
        } else {
            in.skip(8);
            length = u32(head + 4, false);
        }
        if (length == undefinedLength || length > in.remaining()) {
            fail(error, HIL_DICOM_ELEMENT_LENGTH, "meta header element " + tagText(group, element) + " declares " +
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
        fail(error, HIL_DICOM_INVALID_FILE, "not a DICOM Part 10 file: no \"DICM\" prefix after the 128-byte preamble");
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
