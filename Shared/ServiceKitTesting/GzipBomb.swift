import CompressNIO
import NIOCore

/// Gzip bodies that expand far beyond any body limit, for tests that a decoder stops at the limit.
public enum GzipBomb {
    /// `prefix`, then `mebibytes` MiB of `byte`, gzipped as one stream (about a thousandth of its
    /// decoded size), without ever holding the decoded bytes.
    public static func make(prefix: String = "", mebibytes: Int, of byte: UInt8 = 0) throws -> ByteBuffer {
        let compressor = CompressionAlgorithm.gzip().compressor
        compressor.window = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        try compressor.startStream()
        defer { try? compressor.finishStream() }
        var bomb = ByteBuffer()
        func add(_ chunk: ByteBuffer, last: Bool) throws {
            var chunk = chunk
            try chunk.compressStream(with: compressor, flush: last ? .finish : .no) { window in
                var window = window
                bomb.writeBuffer(&window)
            }
        }
        try add(ByteBuffer(string: prefix), last: false)
        let block = ByteBuffer(repeating: byte, count: 1 << 20)
        for index in 0..<mebibytes { try add(block, last: index == mebibytes - 1) }
        return bomb
    }
}
