// The structural check every Part 10 stream passes before DCMTK sees it (see include/cdicom.h, "Limits").
//
// DCMTK's parser recurses once per sequence level and trusts declared lengths; a file can therefore drive its stack
// (sequences nested 200,000 deep) or its allocations (a value length far past the end of the data). The prescan
// walks the same structure iteratively, with an explicit stack, and refuses the file — with a message naming the
// element — when:
//  - a defined length runs past its item, its sequence or the end of the data;
//  - an undefined length appears where PS3.5 §7.1 does not allow one (only SQ, UN and encapsulated Pixel Data);
//  - sequences nest deeper than the limit, or the file holds more elements than the limit;
//  - a deflated dataset inflates past the limit.
// Memory is bounded (a 64 KiB read buffer, the container stack ≤ depth limit) whatever the input.
#pragma once

#include "cdicom.h"

#include <cstddef>
#include <cstdint>
#include <string>

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

struct ScanLimits {
    uint32_t maxDepth;
    uint64_t maxElements;
    uint64_t maxInflatedBytes;
};

/// Walks the whole stream (preamble, "DICM", meta header, dataset). On success returns true and sets
/// `transferSyntax` to the meta header's (may be empty). On failure fills `error` (HIL_DICOM_ELEMENT_LENGTH,
/// HIL_DICOM_LIMIT or HIL_DICOM_INVALID_FILE) and returns false.
bool prescan(ByteSource &source, const ScanLimits &limits, std::string &transferSyntax, hil_dicom_error *error);

}  // namespace hil
