import CCurl
import Foundation
import Synchronization

/// One libcurl multi handle and the thread that drives it with `curl_multi_poll`.
///
/// Every call into the multi handle and into an added easy handle happens on that thread; other
/// threads only queue commands and interrupt the poll with `curl_multi_wakeup`, the one multi
/// function libcurl allows from any thread. No thread per request, nothing on an event loop.
final class MultiDriver: @unchecked Sendable {
    private enum Command {
        case add(Transfer)
        case cancel(Transfer)
        case resumeReceiving(Transfer)
        case resumeSending(Transfer)
    }

    private struct Queue {
        var commands: [Command] = []
        /// False once stopping: finish (or abort) what is in flight, then end the thread.
        var accepting = true
        /// Abort what is in flight with this error, then stop.
        var abortError: CurlHTTPError?
        var waiters: [CheckedContinuation<Void, Never>] = []
        var hasStopped = false
        /// A wakeup is already on its way for the commands queued: one per batch is enough.
        var wakeupPending = false

        /// Interrupts the poll unless a wakeup is already pending; called under the lock.
        mutating func wake(_ multi: UnsafeMutableRawPointer) {
            guard !wakeupPending else { return }
            wakeupPending = true
            fleet_curl_multi_wakeup(multi)
        }
    }

    private let multi: UnsafeMutableRawPointer
    private let queue = Mutex(Queue())
    private let idleHandles = Mutex<[EasyHandle]>([])
    private let maxIdleHandles: Int
    /// Easy handles alive (in flight or idle); zero after shutdown, which tests rely on.
    let liveHandles = Atomic<Int>(0)
    /// Transfers added and not yet finished.
    let inFlight = Atomic<Int>(0)
    /// Driver-thread only: the transfers in the multi handle, which keeps them alive for callbacks.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private let threadName: String

    init(threadName: String, maxConnections: Int, maxIdleHandles: Int, multiplex: Bool) {
        guard let multi = fleet_curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.multi = multi
        self.maxIdleHandles = maxIdleHandles
        self.threadName = threadName
        _ = fleet_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, maxConnections)
        _ = fleet_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, multiplex ? FLEET_CURLPIPE_MULTIPLEX : 0)
        Thread { [self] in run() }.start()
    }

    // MARK: - Any thread

    /// An easy handle from the pool, or a new one.
    func makeHandle() -> EasyHandle? {
        if let handle = idleHandles.withLock({ $0.popLast() }) { return handle }
        guard let handle = EasyHandle() else { return nil }
        liveHandles.add(1, ordering: .relaxed)
        return handle
    }

    /// Queues a prepared transfer; false when the driver no longer accepts work.
    func submit(_ transfer: Transfer) -> Bool {
        let accepted = queue.withLock { queue in
            guard queue.accepting else { return false }
            queue.commands.append(.add(transfer))
            queue.wake(multi)
            return true
        }
        if !accepted { recycle(transfer.easy) }
        return accepted
    }

    /// Aborts a transfer; its awaiting task or body consumer sees `CancellationError`.
    func cancel(_ transfer: Transfer) { send(.cancel(transfer)) }

    /// The body's consumer caught up: let libcurl read from the socket again.
    func resumeReceiving(_ transfer: Transfer) { send(.resumeReceiving(transfer)) }

    /// A streamed request body has data again: let libcurl call the read callback.
    func resumeSending(_ transfer: Transfer) { send(.resumeSending(transfer)) }

    /// Wakes the poll under the queue's lock: the thread marks itself stopped under the same lock
    /// before freeing the multi handle, so a wakeup never reaches a freed handle.
    private func send(_ command: Command) {
        queue.withLock { queue in
            guard !queue.hasStopped else { return }
            queue.commands.append(command)
            queue.wake(multi)
        }
    }

    /// Stops taking work and returns once the thread has exited and every handle is freed.
    /// With `abort` nil, what is in flight finishes first; otherwise it fails with that error.
    func stop(abort: CurlHTTPError?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = queue.withLock { queue in
                queue.accepting = false
                if let abort { queue.abortError = abort }
                if queue.hasStopped { return true }
                queue.waiters.append(continuation)
                queue.wake(multi)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Escalates a graceful stop: what is still in flight fails with `error` now. Never waits.
    func abortInFlight(with error: CurlHTTPError) {
        queue.withLock { queue in
            guard !queue.hasStopped else { return }
            queue.accepting = false
            queue.abortError = error
            queue.wake(multi)
        }
    }

    // MARK: - Driver thread

    private func run() {
        // Linux keeps 15 bytes of a thread's name; set from the thread itself, where it applies.
        fleet_set_current_thread_name(threadName)
        while true {
            let (commands, draining, abortError) = queue.withLock { queue in
                queue.wakeupPending = false
                defer { queue.commands.removeAll(keepingCapacity: true) }
                return (queue.commands, !queue.accepting, queue.abortError)
            }
            for command in commands { apply(command, abortError: abortError) }
            if let abortError {
                for transfer in Array(active.values) { end(transfer, error: abortError) }
            }
            if draining && active.isEmpty { break }

            var running: Int32 = 0
            fleet_curl_multi_perform(multi, &running)
            collectFinished()
            var ready: Int32 = 0
            fleet_curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
        shutDownOnThread()
    }

    private func apply(_ command: Command, abortError: CurlHTTPError?) {
        switch command {
        case .add(let transfer):
            if let abortError {
                transfer.finish(error: abortError)
                recycle(transfer.easy)
                return
            }
            if transfer.cancelled.load(ordering: .acquiring) {
                transfer.finish(error: CancellationError())
                recycle(transfer.easy)
                return
            }
            inFlight.add(1, ordering: .relaxed)
            active[transfer.easy.raw] = transfer
            fleet_curl_multi_add_handle(multi, transfer.easy.raw)
        case .cancel(let transfer):
            guard active[transfer.easy.raw] === transfer else { return }
            end(transfer, error: CancellationError())
        case .resumeReceiving(let transfer):
            guard active[transfer.easy.raw] === transfer, transfer.receivePaused else { return }
            transfer.receivePaused = false
            fleet_curl_easy_pause(transfer.easy.raw, FLEET_CURLPAUSE_CONT)
        case .resumeSending(let transfer):
            guard active[transfer.easy.raw] === transfer else { return }
            // CONT also resumes receiving; a consumer still behind pauses it again at the next write.
            transfer.receivePaused = false
            fleet_curl_easy_pause(transfer.easy.raw, FLEET_CURLPAUSE_CONT)
        }
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = fleet_curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                let transfer = active[handle]
            else { continue }
            let result = fleet_curl_msg_result(message)
            let error: CurlHTTPError?
            if result == CURLE_WRITE_ERROR && transfer.headDelivered {
                // The write callback refused data because the body's consumer went away.
                end(transfer, error: nil, cancelled: true)
                continue
            } else if result == CURLE_OPERATION_TIMEDOUT && transfer.easy.infoOffset(CURLINFO_CONNECT_TIME_T) == 0 {
                // Timed out before any connection was made: the peer is unreachable, not slow.
                error = CurlHTTPError(.connectTimeout, "\(transfer.url): no connection within the connect timeout")
            } else if result == CURLE_ABORTED_BY_CALLBACK && transfer.pipe != nil {
                error = CurlHTTPError(.transport(Int32(result.rawValue)), "\(transfer.url): the request body failed")
            } else {
                error = CurlHTTPError.from(
                    result: result, osErrno: transfer.easy.info(CURLINFO_OS_ERRNO),
                    message: transfer.easy.errorMessage, url: transfer.url)
            }
            end(transfer, error: error)
        }
    }

    /// Takes a transfer out of the multi handle and tells its owner how it ended.
    private func end(_ transfer: Transfer, error: (any Error)?, cancelled: Bool = false) {
        fleet_curl_multi_remove_handle(multi, transfer.easy.raw)
        active[transfer.easy.raw] = nil
        inFlight.subtract(1, ordering: .relaxed)
        transfer.finish(error: cancelled ? CancellationError() : error)
        recycle(transfer.easy)
    }

    private func recycle(_ handle: EasyHandle) {
        handle.reset()
        let kept = idleHandles.withLock { idle in
            guard idle.count < maxIdleHandles, queue.withLock({ $0.accepting }) else { return false }
            idle.append(handle)
            return true
        }
        if !kept { liveHandles.subtract(1, ordering: .relaxed) }
    }

    private func shutDownOnThread() {
        let waiters = queue.withLock { queue in
            queue.hasStopped = true
            defer { queue.waiters.removeAll() }
            return queue.waiters
        }
        // Every easy handle is out of the multi handle by now, so both can be freed in any order.
        let freed = idleHandles.withLock { idle in
            let count = idle.count
            idle = []
            return count
        }
        liveHandles.subtract(freed, ordering: .relaxed)
        fleet_curl_multi_cleanup(multi)
        for waiter in waiters { waiter.resume() }
    }
}
