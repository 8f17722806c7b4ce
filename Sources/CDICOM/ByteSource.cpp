// See ByteSource.hpp.
#include "ByteSource.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace hil {

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

size_t preadFully(int fd, void *out, size_t count, uint64_t offset, bool &failed) {
    size_t got = 0;
    while (got < count) {
        // > pread: "reads up to count bytes from file descriptor fd at offset offset"; returns 0 at end of file,
        // -1 with errno on error (man 2 pread).
        ssize_t n = ::pread(fd, static_cast<uint8_t *>(out) + got, count - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { failed = true; break; }
        if (n == 0) break;
        got += (size_t)n;
    }
    return got;
}

bool FileSource::fill(size_t need) {
    // Keeps [at_, at_ + need) in the buffer when the file has those bytes.
    if (at_ >= bufferAt_ && at_ + need <= bufferAt_ + buffered_) return true;
    if (need > end_ - at_) return false;
    size_t want = (size_t)std::min<uint64_t>(sizeof buffer_, end_ - at_);
    size_t got = preadFully(fd_, buffer_, want, at_, failed_);
    bufferAt_ = at_;
    buffered_ = got;
    return got >= need;
}

bool FileSource::read(uint8_t *out, size_t n) {
    if (n > end_ - at_) return false;
    if (n > sizeof buffer_) {
        bool error = false;
        if (preadFully(fd_, out, n, at_, error) < n) { failed_ = error; return false; }
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

}  // namespace hil
