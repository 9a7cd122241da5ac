import CCurl

/// One libcurl easy handle with typed option setters.
///
/// Sendable by hand-off, not by locking: one owner at a time uses it. The pool hands it to the
/// task preparing a transfer, which gives it to the driver thread on submit, which returns it to
/// the pool after `reset()`. No two threads ever hold it at once.
final class EasyHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// libcurl reports failures here in words; it must live as long as the handle.
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init?() {
        guard let raw = fleet_curl_easy_init() else { return nil }
        self.raw = raw
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        if let headerList { fleet_curl_slist_free_all(headerList) }
        fleet_curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    /// Clears every option (connections stay in the multi handle's cache), ready for the next use.
    func reset() {
        fleet_curl_easy_reset(raw)
        if let headerList { fleet_curl_slist_free_all(headerList) }
        headerList = nil
        errorBuffer[0] = 0
    }

    var errorMessage: String {
        String(cString: errorBuffer)
    }

    func set(_ option: CURLoption, _ value: Int) {
        _ = fleet_curl_easy_setopt_long(raw, option, value)
    }

    func set(_ option: CURLoption, _ value: Bool) {
        _ = fleet_curl_easy_setopt_long(raw, option, value ? 1 : 0)
    }

    func set(_ option: CURLoption, offset value: Int64) {
        _ = fleet_curl_easy_setopt_off_t(raw, option, curl_off_t(value))
    }

    /// libcurl copies string options (since 7.17), so the Swift string need not outlive the call.
    func set(_ option: CURLoption, _ value: String) {
        _ = fleet_curl_easy_setopt_string(raw, option, value)
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) {
        _ = fleet_curl_easy_setopt_pointer(raw, option, value)
    }

    func set(_ option: CURLoption, callback: fleet_curl_data_callback) {
        _ = fleet_curl_easy_setopt_data_callback(raw, option, callback)
    }

    /// Replaces the request's header lines; the list is owned here and freed on reset or deinit.
    func setHeaders(_ lines: [String]) {
        if let headerList { fleet_curl_slist_free_all(headerList) }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            list = fleet_curl_slist_append(list, line)
        }
        headerList = list
        _ = fleet_curl_easy_setopt_pointer(raw, CURLOPT_HTTPHEADER, list.map(UnsafeMutableRawPointer.init))
    }

    func info(_ info: CURLINFO) -> Int {
        var value = 0
        _ = fleet_curl_easy_getinfo_long(raw, info, &value)
        return value
    }

    func infoOffset(_ info: CURLINFO) -> Int64 {
        var value: curl_off_t = 0
        _ = fleet_curl_easy_getinfo_off_t(raw, info, &value)
        return Int64(value)
    }
}
