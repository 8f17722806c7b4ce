#if canImport(Glibc)
import Glibc
#endif

/// `--s3-dir DIR`: `s3://bucket/key` is the file `DIR/bucket/key`. A bucket is a directory directly under DIR;
/// one that does not exist is NoSuchBucket (it is never created), keys map to paths below it (no `..`).
/// Read and written with POSIX calls from the worker thread.
///
/// A bucket is a tree (docs/hardening.md, "Folders as buckets"): listing follows a symbolic link only when its target
/// is inside the bucket directory, visits each directory once (a link back up is a cycle, skipped), goes at most
/// `maxDepth` levels down and stops with an error past `maxEntries` entries; reads and writes refuse a path whose
/// real location is outside the bucket. Nothing outside the bucket is ever listed, read, written or named.
public struct FolderObjectStore: ObjectStore {
    public let root: String
    /// Directory levels below the bucket that listing descends.
    public static let maxDepth = 64
    /// Directory entries one listing may visit; past it the listing (and the job) fails with a message.
    public static let maxEntries = 1_000_000

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    public var label: String { "--s3-dir \(root)" }

    private func bucketPath(_ bucket: String) throws(ObjectStoreError) -> String {
        let path = "\(root)/\(bucket)"
        var info = stat()
        guard !bucket.contains("/"), bucket != ".", bucket != "..", stat(path, &info) == 0,
              (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) else {
            throw ObjectStoreError(.noSuchBucket, "bucket \(bucket) does not exist: no directory \(path) under --s3-dir \(root)")
        }
        return path
    }

    /// The real path (symbolic links resolved) of the bucket directory `path` (from `bucketPath`): what "inside
    /// the bucket" is measured against.
    private func realBucket(_ bucket: String, _ path: String) throws(ObjectStoreError) -> String {
        guard let real = Self.realPath(path) else {
            throw ObjectStoreError(.noSuchBucket, "bucket \(bucket) does not exist under --s3-dir \(root)")
        }
        return real
    }

    /// > realpath(3): "returns a pointer to the resolved name … all symbolic links, /./, /../ and extra '/' resolved";
    /// NULL on error. With a NULL buffer it mallocs the result, which the caller frees.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func isInside(_ path: String, _ directory: String) -> Bool {
        path == directory || path.hasPrefix(directory == "/" ? "/" : directory + "/")
    }

    /// The file of `key` in the bucket directory `base`, refusing keys that would leave the bucket.
    private func path(_ bucket: String, base: String, _ key: String) throws(ObjectStoreError) -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw ObjectStoreError(.noSuchKey, "key \(key) is not a plain path below bucket \(bucket)")
        }
        return base + "/" + parts.joined(separator: "/")
    }

    /// The bucket directory and the file of `key` in it, whose existing part resolves inside the bucket (a symbolic
    /// link out of it is refused as if the key did not exist, without naming its target).
    private func containedPath(_ bucket: String, _ key: String) throws(ObjectStoreError) -> (base: String, file: String) {
        let base = try bucketPath(bucket)
        let file = try path(bucket, base: base, key)
        let real = try realBucket(bucket, base)
        // The deepest existing ancestor (the file itself when it exists) must resolve inside the bucket.
        var probe = file
        while true {
            if let resolved = Self.realPath(probe) {
                guard Self.isInside(resolved, real) else {
                    throw ObjectStoreError(.noSuchKey, "s3://\(bucket)/\(key) does not exist under --s3-dir \(root)")
                }
                return (base, file)
            }
            guard let slash = probe.lastIndex(of: "/"), slash > probe.startIndex else { return (base, file) }
            probe = String(probe[..<slash])
        }
    }

    public func list(bucket: String, prefix: String) throws(ObjectStoreError) -> [ObjectInfo] {
        let base = try bucketPath(bucket)
        let real = try realBucket(bucket, base)
        // Walk from the deepest directory the prefix names, then filter on the whole prefix.
        let directoryPart = prefix.contains("/") ? String(prefix[..<(prefix.lastIndex(of: "/") ?? prefix.startIndex)]) : ""
        guard !directoryPart.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { return [] }
        var walk = FolderWalk(base: base, realBase: real)
        try walk.run(from: directoryPart)
        return walk.keys.filter { $0.key.hasPrefix(prefix) && !$0.key.hasSuffix(".part") }.sorted { $0.key < $1.key }
    }

    public func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8] {
        let file = try containedPath(bucket, key).file
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
        let (base, file) = try containedPath(bucket, key)
        // Make the directories on the way.
        var directory = ""
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

/// The iterative walk behind `FolderObjectStore.list`: an explicit stack of directories (no recursion), each directory
/// visited once by device and inode, symbolic links followed only to targets inside the bucket, depth and entry count
/// bounded.
struct FolderWalk {
    let base: String
    let realBase: String
    private(set) var keys: [ObjectInfo] = []
    private var visited: Set<[UInt64]> = []
    private var entries = 0

    init(base: String, realBase: String) {
        self.base = base
        self.realBase = realBase
    }

    mutating func run(from start: String) throws(ObjectStoreError) {
        // The prefix's own directories may pass through a link: where they lead must be inside the bucket too.
        if !start.isEmpty {
            guard let real = FolderObjectStore.realPath("\(base)/\(start)"), FolderObjectStore.isInside(real, realBase) else { return }
        }
        var pending: [(relative: String, depth: Int)] = [(start, 0)]
        while let (relative, depth) = pending.popLast() {
            let directory = relative.isEmpty ? base : "\(base)/\(relative)"
            var info = stat()
            // Each directory once: a link back up the tree (or two links to one place) is not walked again.
            guard stat(directory, &info) == 0, visited.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted else { continue }
            guard let handle = opendir(directory) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                entries += 1
                guard entries <= FolderObjectStore.maxEntries else {
                    throw ObjectStoreError(.io, "the listing stopped after \(FolderObjectStore.maxEntries) entries (the limit of one listing)")
                }
                let key = relative.isEmpty ? name : "\(relative)/\(name)"
                let path = "\(base)/\(key)"
                var link = stat()
                guard lstat(path, &link) == 0 else { continue }
                if (link.st_mode & mode_t(S_IFMT)) == mode_t(S_IFLNK) {
                    // Followed only when it resolves inside the bucket; a link out (or dangling) is not listed.
                    guard let target = FolderObjectStore.realPath(path), FolderObjectStore.isInside(target, realBase) else { continue }
                }
                var target = stat()
                guard stat(path, &target) == 0 else { continue }
                if (target.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) {
                    if depth + 1 < FolderObjectStore.maxDepth { pending.append((key, depth + 1)) }
                } else if (target.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) {
                    keys.append(ObjectInfo(key: key, size: Int(target.st_size)))
                }
            }
        }
    }
}
