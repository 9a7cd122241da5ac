import Dispatch
import Foundation
import Synchronization

/// Where JSON log lines go: a file descriptor written from one serial queue, so a log call never
/// waits on a slow pipe and never blocks an event loop.
///
/// When more than `capacity` lines are waiting the newest are dropped and counted, rather than
/// letting memory grow or a handler block.
public final class LogSink: Sendable {
    private let queue = DispatchQueue(label: "fleet.log-sink")
    private let fileDescriptor: Int32
    private let capacity: Int
    private let pending = Atomic<Int>(0)
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
        if pending.add(1, ordering: .relaxed).newValue > capacity {
            pending.subtract(1, ordering: .relaxed)
            droppedLines.add(1, ordering: .relaxed)
            return
        }
        queue.async { [fileDescriptor] in
            var bytes = line
            bytes.append(UInt8(ascii: "\n"))
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        break
                    }
                    offset += written
                }
            }
            self.pending.subtract(1, ordering: .relaxed)
        }
    }

    /// Waits until every queued line is written; called before the process exits.
    public func flush() {
        queue.sync {}
    }
}
