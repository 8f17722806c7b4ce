#if canImport(Glibc)
import Glibc
#endif

/// `--s3-dir DIR`: `s3://bucket/key` is the file `DIR/bucket/key`. A bucket is a directory directly under DIR;
/// one that does not exist is NoSuchBucket (it is never created), keys map to paths below it (no `..`).
/// Read and written with POSIX calls from the worker thread.
public struct FolderObjectStore: ObjectStore {
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    public var label: String { "--s3-dir \(root)" }

    private func bucketPath(_ bucket: String) throws(ObjectStoreError) -> String {
        let path = "\(root)/\(bucket)"
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) else {
            throw ObjectStoreError(.noSuchBucket, "bucket \(bucket) does not exist: no directory \(path) under --s3-dir \(root)")
        }
        return path
    }

    /// The file of `key`, refusing keys that would leave the bucket.
    private func path(_ bucket: String, _ key: String) throws(ObjectStoreError) -> String {
        let base = try bucketPath(bucket)
        let parts = key.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw ObjectStoreError(.noSuchKey, "key \(key) is not a plain path below bucket \(bucket)")
        }
        return base + "/" + parts.joined(separator: "/")
    }

    public func list(bucket: String, prefix: String) throws(ObjectStoreError) -> [ObjectInfo] {
        let base = try bucketPath(bucket)
        var keys: [ObjectInfo] = []
        // Walk from the deepest directory the prefix names, then filter on the whole prefix.
        let directoryPart = prefix.contains("/") ? String(prefix[..<(prefix.lastIndex(of: "/") ?? prefix.startIndex)]) : ""
        walk(base, relative: directoryPart, into: &keys, depth: 0)
        return keys.filter { $0.key.hasPrefix(prefix) && !$0.key.hasSuffix(".part") }.sorted { $0.key < $1.key }
    }

    private func walk(_ base: String, relative: String, into keys: inout [ObjectInfo], depth: Int) {
        guard depth < 64 else { return }
        let directory = relative.isEmpty ? base : "\(base)/\(relative)"
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let key = relative.isEmpty ? name : "\(relative)/\(name)"
            var info = stat()
            guard stat("\(base)/\(key)", &info) == 0 else { continue }
            if (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) {
                walk(base, relative: key, into: &keys, depth: depth + 1)
            } else if (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) {
                keys.append(ObjectInfo(key: key, size: Int(info.st_size)))
            }
        }
    }

    public func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8] {
        let file = try path(bucket, key)
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw ObjectStoreError(.noSuchKey, "s3://\(bucket)/\(key) does not exist under --s3-dir \(root)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ObjectStoreError(.io, "cannot read \(file): \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        var data = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw ObjectStoreError(.io, "cannot read \(file): \(String(cString: strerror(errno)))") }
            done += count
        }
        return data
    }

    public func put(bucket: String, key: String, _ data: [UInt8], contentType: String) throws(ObjectStoreError) {
        let file = try path(bucket, key)
        // Make the directories on the way.
        var directory = ""
        let base = try bucketPath(bucket)
        for part in key.split(separator: "/").dropLast() {
            directory += "/\(part)"
            if mkdir(base + directory, 0o755) != 0, errno != EEXIST {
                throw ObjectStoreError(.io, "cannot create \(base + directory): \(String(cString: strerror(errno)))")
            }
        }
        let temporary = file + ".part"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ObjectStoreError(.io, "cannot write \(file): \(String(cString: strerror(errno)))") }
        var done = 0
        while done < data.count {
            let count = data.withUnsafeBytes { write(fd, $0.baseAddress! + done, data.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                close(fd)
                throw ObjectStoreError(.io, "cannot write \(file): \(String(cString: strerror(errno)))")
            }
            done += count
        }
        close(fd)
        // The whole object appears at once, as with S3.
        guard rename(temporary, file) == 0 else {
            throw ObjectStoreError(.io, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }
}
