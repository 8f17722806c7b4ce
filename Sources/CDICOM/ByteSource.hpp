// Forward-only byte sources the prescan reads: a buffer in memory, a range of a file (pread through a buffer), and the
// raw-deflate rest of either (Deflated Explicit VR Little Endian), inflated as it is read. Memory is bounded whatever
// the input: a 64 KiB buffer per source.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hil {

/// A forward-only byte stream: a buffer in memory, a range of a file, or the inflated rest of either.
class ByteSource {
public:
    static constexpr uint64_t unknown = UINT64_MAX;
    virtual ~ByteSource() {}
    /// Exactly `n` bytes into `out`; false (and nothing promised about `out`) when fewer remain.
    virtual bool read(uint8_t *out, size_t n) = 0;
    /// Up to `n` next bytes without consuming them; returns how many were copied (n ≤ 16).
    virtual size_t peek(uint8_t *out, size_t n) = 0;
    /// Skips `n` bytes; false when fewer remain.
    virtual bool skip(uint64_t n) = 0;
    virtual uint64_t position() const = 0;
    /// Bytes left, or `unknown` (an inflating stream does not know before it has inflated them).
    virtual uint64_t remaining() const = 0;
    /// A read or skip failed because the source failed (I/O, corrupt deflate data), not because the data ended.
    virtual const char *failure() const { return nullptr; }
    /// The failure is a limit of the source (an inflated size), not a defect of the data.
    virtual bool overLimit() const { return false; }
};

class MemorySource : public ByteSource {
public:
    MemorySource(const uint8_t *data, size_t length) : data_(data), length_(length) {}
    bool read(uint8_t *out, size_t n) override;
    size_t peek(uint8_t *out, size_t n) override;
    bool skip(uint64_t n) override;
    uint64_t position() const override { return position_; }
    uint64_t remaining() const override { return length_ - position_; }

private:
    const uint8_t *data_;
    size_t length_;
    size_t position_ = 0;
};

/// Reads `count` bytes at `offset` of `fd` with pread, retrying interrupted calls; stops early at the end of the
/// file or on an error (then sets `failed`). Returns how many bytes were read.
size_t preadFully(int fd, void *out, size_t count, uint64_t offset, bool &failed);

/// Bytes [offset, offset + length) of an open descriptor, read with pread through a 64 KiB buffer.
class FileSource : public ByteSource {
public:
    FileSource(int fd, uint64_t offset, uint64_t length) : fd_(fd), start_(offset), end_(offset + length), at_(offset) {}
    bool read(uint8_t *out, size_t n) override;
    size_t peek(uint8_t *out, size_t n) override;
    bool skip(uint64_t n) override;
    uint64_t position() const override { return at_ - start_; }
    uint64_t remaining() const override { return end_ - at_; }
    const char *failure() const override { return failed_ ? "the file could not be read" : nullptr; }

private:
    bool fill(size_t need);
    int fd_;
    uint64_t start_, end_, at_;
    uint8_t buffer_[1 << 16];
    uint64_t bufferAt_ = 0;  // file offset of buffer_[0]
    size_t buffered_ = 0;
    bool failed_ = false;
};

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
    bool overLimit() const override { return overCap_; }

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
            if (inflated_ > cap_) {
                failure_ = "the deflated dataset inflates past the limit of one file";
                overCap_ = ended_ = true;
                return false;
            }
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
    bool overCap_ = false;
    const char *failure_ = nullptr;
    uint8_t input_[1 << 14];
    uint8_t window_[1 << 16];
    size_t head_ = 0, tail_ = 0;
    uint64_t position_ = 0, inflated_ = 0;
};

}  // namespace hil
