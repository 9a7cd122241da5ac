import Foundation
import NIOCore
import NIOPosix

/// Writes to a file on NIO's blocking-I/O thread pool, never on an event loop or the cooperative pool.
struct FileWriter: Sendable {
    let descriptor: Int32

    static func open(_ path: String) async throws -> FileWriter {
        let descriptor = try await NIOThreadPool.singleton.runIfActive {
            let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return fd
        }
        return FileWriter(descriptor: descriptor)
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await NIOThreadPool.singleton.runIfActive { [descriptor] in
            try buffer.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                    }
                    offset += written
                }
            }
        }
    }

    func close() async throws {
        try await NIOThreadPool.singleton.runIfActive { [descriptor] in
            _ = Foundation.close(descriptor)
        }
    }
}
