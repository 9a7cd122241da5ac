import NIOCore
import Synchronization

/// Carries a streamed request body from the task that produces it to libcurl's read callback,
/// holding at most `capacity` bytes: the producer waits while the connection is slower than it.
final class UploadPipe: Sendable {
    enum Read {
        /// This many bytes were copied.
        case bytes(Int)
        /// Nothing buffered yet: the transfer pauses until `append` wakes it.
        case empty
        /// The body is complete.
        case end
        /// The producer failed; the transfer is aborted.
        case failed
    }

    private struct State {
        var chunks: [ByteBuffer] = []
        var head = 0
        var buffered = 0
        var finished = false
        var failure: (any Error)?
        var closed = false
        var readerPaused = false
        var waitingWriter: CheckedContinuation<Void, any Error>?
    }

    private let state = Mutex(State())
    private let capacity: Int
    /// Called (off the driver thread) when a paused reader has data again.
    private let wakeReader: @Sendable () -> Void

    init(capacity: Int, wakeReader: @escaping @Sendable () -> Void) {
        self.capacity = capacity
        self.wakeReader = wakeReader
    }

    /// Adds a chunk, waiting while the pipe is full. Throws once the transfer has ended.
    func append(_ chunk: ByteBuffer) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (wake, outcome): (Bool, Result<Void, any Error>?) = state.withLock { state in
                    if state.closed { return (false, .failure(CancellationError())) }
                    state.chunks.append(chunk)
                    state.buffered += chunk.readableBytes
                    let wake = state.readerPaused
                    state.readerPaused = false
                    if state.buffered < capacity { return (wake, .success(())) }
                    state.waitingWriter = continuation
                    return (wake, nil)
                }
                if wake { wakeReader() }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            close()
        }
    }

    /// Marks the end of the body (or its failure), waking a paused reader.
    func finish(error: (any Error)? = nil) {
        let wake = state.withLock { state in
            state.finished = true
            state.failure = error
            let wake = state.readerPaused
            state.readerPaused = false
            return wake
        }
        if wake { wakeReader() }
    }

    /// Ends the pipe: a waiting producer is released with an error, and a reader that has not seen
    /// the end yet sees a failure, so libcurl aborts rather than waits for bytes that never come.
    func close() {
        let writer = state.withLock { state in
            state.closed = true
            if !state.finished { state.failure = state.failure ?? CancellationError() }
            state.chunks.removeAll()
            state.buffered = 0
            defer { state.waitingWriter = nil }
            return state.waitingWriter
        }
        writer?.resume(throwing: CancellationError())
    }

    /// Copies up to `count` bytes into `destination`; called by libcurl's read callback.
    func read(into destination: UnsafeMutableRawPointer, count: Int) -> Read {
        let (result, writer): (Read, CheckedContinuation<Void, any Error>?) = state.withLock { state in
            if state.failure != nil { return (.failed, nil) }
            var copied = 0
            while copied < count, state.head < state.chunks.count {
                let room = count - copied
                let taken = state.chunks[state.head].readableBytes <= room
                    ? state.chunks[state.head].readableBytes : room
                state.chunks[state.head].withUnsafeReadableBytes { bytes in
                    (destination + copied).copyMemory(from: bytes.baseAddress!, byteCount: taken)
                }
                state.chunks[state.head].moveReaderIndex(forwardBy: taken)
                copied += taken
                if state.chunks[state.head].readableBytes == 0 { state.head += 1 }
            }
            if state.head == state.chunks.count {
                state.chunks.removeAll(keepingCapacity: true)
                state.head = 0
            }
            state.buffered -= copied
            var writer: CheckedContinuation<Void, any Error>?
            if state.buffered < capacity, let waiting = state.waitingWriter {
                writer = waiting
                state.waitingWriter = nil
            }
            if copied > 0 { return (.bytes(copied), writer) }
            if state.finished { return (.end, writer) }
            state.readerPaused = true
            return (.empty, writer)
        }
        writer?.resume()
        return result
    }
}
