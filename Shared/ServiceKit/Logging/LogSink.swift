import Dispatch
import Foundation
import Synchronization

/// Where JSON log lines go: a buffer that a serial queue writes to a file descriptor, so a log
/// call never waits on a slow pipe and never blocks an event loop.
///
/// Lines that arrive within 10 ms of each other are coalesced into one write: one syscall and one
/// wake-up carry many lines under load (at 2 ms, the timer's wake-ups were a tenth of a loaded
/// service's context switches). When more than `capacity` lines are waiting, new ones are
/// dropped and counted rather than letting memory grow or a caller block.
public final class LogSink: Sendable {
    private struct Pending {
        var bytes: [UInt8] = []
        /// The buffer last written, emptied with its capacity kept: the next burst appends into
        /// it without growing a new array under the lock.
        var spare: [UInt8] = []
        var lines = 0
        var scheduled = false
    }

    private let queue = DispatchQueue(label: "fleet.log-sink")
    private let fileDescriptor: Int32
    private let capacity: Int
    private let pending = Mutex(Pending())
    private let droppedLines = Atomic<Int>(0)

    /// Lines go to `fileDescriptor` (stdout by default); at most `capacity` may wait.
    public init(fileDescriptor: Int32 = STDOUT_FILENO, capacity: Int = 16_384) {
        self.fileDescriptor = fileDescriptor
        self.capacity = capacity
    }

    /// Lines dropped because the writer fell behind.
    public var dropped: Int { droppedLines.load(ordering: .relaxed) }

    /// Queues one line (the newline is added here).
    public func write(_ line: [UInt8]) {
        let schedule = pending.withLock { state -> Bool? in
            guard state.lines < capacity else { return nil }
            state.bytes.append(contentsOf: line)
            state.bytes.append(UInt8(ascii: "\n"))
            state.lines += 1
            if state.scheduled { return false }
            state.scheduled = true
            return true
        }
        switch schedule {
        case nil: droppedLines.add(1, ordering: .relaxed)
        // A short delay gathers the lines of a burst into one write and one thread wake-up,
        // instead of a context switch per line.
        case true?: queue.asyncAfter(deadline: .now() + .milliseconds(10)) { self.drain() }
        case false?: break
        }
    }

    /// Writes every queued line now; called before the process exits.
    public func flush() {
        queue.sync { drain() }
    }

    private func drain() {
        while true {
            var chunk = pending.withLock { state -> [UInt8] in
                var taken: [UInt8] = []
                swap(&taken, &state.bytes)
                swap(&state.bytes, &state.spare)
                state.lines = 0
                if taken.isEmpty { state.scheduled = false }
                return taken
            }
            if chunk.isEmpty { return }
            writeAll(chunk)
            chunk.removeAll(keepingCapacity: true)
            pending.withLock { state in
                if state.spare.capacity < chunk.capacity { swap(&state.spare, &chunk) }
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return
                }
                offset += written
            }
        }
    }
}
