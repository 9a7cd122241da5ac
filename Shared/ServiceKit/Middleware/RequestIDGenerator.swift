import Foundation
import Synchronization

/// Trace, span and request ids from the kernel's CSPRNG (`getentropy`, that is `getrandom`), drawn 4 KiB at a time so a
/// request pays a locked array read, not a system call per id. A request id doubles as a trace id
/// and may be shown to clients: nobody may predict the next one from those seen before (the
/// SplitMix64 counter this replaces could be run forward from a single id).
struct RequestIDGenerator: RandomNumberGenerator {
    private static let pool = Mutex(Pool())

    private struct Pool: ~Copyable {
        var words = [UInt64](repeating: 0, count: 512)
        var next = 512

        mutating func draw() -> UInt64 {
            if next == words.count {
                words.withUnsafeMutableBytes { bytes in
                    // getentropy(3) is getrandom(2) in pieces of at most 256 bytes.
                    var filled = 0
                    while filled < bytes.count {
                        let piece = min(256, bytes.count - filled)
                        if getentropy(bytes.baseAddress! + filled, piece) == 0 {
                            filled += piece
                        } else if errno != EINTR {
                            // It cannot fail on Linux 3.17+ once the pool is seeded; should it,
                            // the system generator (also the kernel's) fills the rest.
                            var system = SystemRandomNumberGenerator()
                            while filled < bytes.count {
                                bytes[filled] = UInt8.random(in: .min ... .max, using: &system)
                                filled += 1
                            }
                        }
                    }
                }
                next = 0
            }
            defer { next += 1 }
            return words[next]
        }
    }

    mutating func next() -> UInt64 {
        Self.pool.withLock { $0.draw() }
    }
}
