import Foundation
import Hummingbird
import HummingbirdTesting
@testable import ServiceKit
import ServiceKitTesting
import Testing

/// A multipart body as a route receives it.
@Model struct Attachment {
    var file: UploadedFile
    @Field(maxLength: 50) var note: String = ""
}

/// Where the handler found the file's bytes.
@Model struct AttachmentSeen {
    var size: Int
    var inMemory: Bool
    var path: String?
    var bytesOnDisk: Int
}

enum UploadDemo {
    static let definition = ServiceDefinition(name: "uploads", defaultPort: 0, defaultAdminPort: 0) { router, _ in
        router.post("/attachments") { (upload: Multipart<Attachment>) -> AttachmentSeen in
            let file = upload.file
            let onDisk = file.path.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int } ?? 0
            return AttachmentSeen(size: file.size, inMemory: file.data != nil, path: file.path, bytesOnDisk: onDisk)
        }
    }
}

/// Multipart bodies: files kept in memory up to UPLOAD_SPOOL_BYTES and streamed to disk beyond,
/// MAX_UPLOAD_BYTES enforced while the body arrives, nothing left behind.
@Suite struct MultipartUploadTests {
    static let boundary = "fleet-test-boundary"
    static let contentType = "multipart/form-data; boundary=\(boundary)"

    /// One part of a multipart body, with its trailing CRLF.
    static func part(_ name: String, filename: String? = nil, _ content: String) -> String {
        let disposition = "form-data; name=\"\(name)\"" + (filename.map { "; filename=\"\($0)\"" } ?? "")
        let type = filename == nil ? "" : "Content-Type: application/octet-stream\r\n"
        return "--\(boundary)\r\nContent-Disposition: \(disposition)\r\n\(type)\r\n\(content)\r\n"
    }

    static func body(_ parts: String...) -> String { parts.joined() + "--\(boundary)--\r\n" }

    func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    /// Spooled files whose bytes start with `marker`.
    static func spooledFiles(startingWith marker: String) -> [String] {
        let directory = FleetContext.temporaryUploads
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.map { directory + "/" + $0 }.filter { path in
            guard let handle = FileHandle(forReadingAtPath: path) else { return false }
            defer { try? handle.close() }
            return handle.readData(ofLength: marker.utf8.count) == Data(marker.utf8)
        }
    }

    static func size(of path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    @Test func theSpoolThresholdDecidesWhetherAFileStaysInMemoryOrGoesToDisk() async throws {
        try await InProcessService.with(UploadDemo.definition, configure: { $0.uploadSpoolBytes = 4096 }) { service in
            try await service.api { client async throws in
                let small = Self.body(Self.part("file", filename: "small.bin", String(repeating: "s", count: 4096)))
                let kept = try object(try await client.execute(
                    uri: "/attachments", method: .post, headers: [.contentType: Self.contentType], body: ByteBuffer(string: small)
                ).body)
                #expect(kept["size"] as? Int == 4096)
                #expect(kept["in_memory"] as? Bool == true)
                #expect(kept["path"] is NSNull)

                let large = Self.body(Self.part("file", filename: "large.bin", String(repeating: "L", count: 4097)))
                let spooled = try object(try await client.execute(
                    uri: "/attachments", method: .post, headers: [.contentType: Self.contentType], body: ByteBuffer(string: large)
                ).body)
                #expect(spooled["size"] as? Int == 4097)
                #expect(spooled["in_memory"] as? Bool == false)
                #expect(spooled["bytes_on_disk"] as? Int == 4097, "the whole file is in the temporary file when the handler runs")
                let path = try #require(spooled["path"] as? String)
                #expect(!FileManager.default.fileExists(atPath: path), "an unsaved temporary file is deleted after the response")
            }
        }
    }

    @Test func aFileAboveTheSpoolThresholdIsWrittenToDiskWhileTheBodyIsStillArriving() async throws {
        let marker = "spool-\(UUID().uuidString)"
        let content = marker + String(repeating: "x", count: 256 * 1024)
        let first = Self.part("file", filename: "big.bin", content)
        let body = Self.body(first)
        let head = "POST /attachments HTTP/1.1\r\nHost: localhost\r\nContent-Type: \(Self.contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        try await InProcessService.with(UploadDemo.definition, configure: { $0.uploadSpoolBytes = 1024 }) { service in
            try await service.api(.live) { client async throws in
                let connection = try RawHTTPConnection(port: try #require(client.port))
                let sentPart = String(first.utf8.prefix(first.utf8.count / 2))!
                #expect(await connection.send(head + sentPart))

                // Half the file has been sent and the request is not complete: its bytes must already be on disk.
                var spooled: [String] = []
                for _ in 0..<200 where spooled.isEmpty || Self.size(of: spooled[0]) < 64 * 1024 {
                    spooled = Self.spooledFiles(startingWith: marker)
                    try await Task.sleep(for: .milliseconds(25))
                }
                let temporary = try #require(spooled.first, "no temporary file holds the upload while it arrives")
                #expect(Self.size(of: temporary) >= 64 * 1024)

                #expect(await connection.send(String(body.utf8.dropFirst(sentPart.utf8.count))!))
                let response = try #require(await connection.readResponse())
                #expect(response.status == 200)
                let answer = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
                #expect(answer["size"] as? Int == content.utf8.count)
                #expect(answer["in_memory"] as? Bool == false)
                #expect(answer["path"] as? String == temporary)
                #expect(answer["bytes_on_disk"] as? Int == content.utf8.count)
            }
        }
    }

    @Test func aMalformedBodyRefusedBeforeItIsReadEndsTheConnectionEvenWithConnectionClose() async throws {
        try await InProcessService.with(UploadDemo.definition) { service in
            try await service.api(.live) { client async throws in
                let connection = try RawHTTPConnection(port: try #require(client.port))
                let boundary = String(repeating: "b", count: 80)  // RFC 2046 allows 70
                let head = "POST /attachments HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    + "Content-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: 10000000\r\n\r\n"
                #expect(await connection.send(head))
                // A client that writes its whole body before reading must not be left blocked.
                let chunk = String(repeating: "z", count: 65536)
                let start = ContinuousClock.now
                var refused = false
                for _ in 0..<152 where !refused {
                    refused = !(await connection.send(chunk))
                    if ContinuousClock.now - start > .seconds(20) { break }
                }
                #expect(refused, "the server neither read the body nor closed the connection")
                #expect(ContinuousClock.now - start < .seconds(10))
            }
        }
    }

    @Test func aChunkedMultipartBodyPastMaxUploadBytesIsRefusedWith413() async throws {
        let marker = "chunked-\(UUID().uuidString)"
        try await InProcessService.with(UploadDemo.definition, configure: { $0.maxUploadBytes = 32 * 1024; $0.uploadSpoolBytes = 1024 }) { service in
            try await service.api(.live) { client async throws in
                let connection = try RawHTTPConnection(port: try #require(client.port))
                let head = "POST /attachments HTTP/1.1\r\nHost: localhost\r\nContent-Type: \(Self.contentType)\r\nTransfer-Encoding: chunked\r\n\r\n"
                let opening = "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n" + marker
                #expect(await connection.send(head + String(opening.utf8.count, radix: 16) + "\r\n" + opening + "\r\n"))
                let chunk = String(repeating: "y", count: 4096)
                for _ in 0..<16 {
                    // The server may close the connection once the limit is crossed: stop sending then.
                    guard await connection.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n") else { break }
                }
                let response = try #require(await connection.readResponse())
                #expect(response.status == 413)
                #expect(response.body == #"{"detail":"Request body too large"}"#)
                #expect(Self.spooledFiles(startingWith: marker).isEmpty, "the partial temporary file is deleted")
            }
        }
    }

    @Test func aFileUnderATextFieldOrTwiceUnderOneKeyLeavesNothingRegistered() async throws {
        let stray = "stray-\(UUID().uuidString).bin"
        let firstOfTwo = "first-\(UUID().uuidString).bin"
        let secondOfTwo = "second-\(UUID().uuidString).bin"
        try await InProcessService.with(UploadDemo.definition) { service in
            try await service.api { client async throws in
                let underText = Self.body(Self.part("file", filename: "ok.bin", "ok"), Self.part("note", filename: stray, "not text"))
                let refused = try await client.execute(
                    uri: "/attachments", method: .post, headers: [.contentType: Self.contentType], body: ByteBuffer(string: underText)
                )
                #expect(refused.status == .unprocessableContent)
                let detail = try #require(try object(refused.body)["detail"] as? [[String: Any]])
                #expect(detail.map { "\($0["type"]!)@" + (($0["loc"] as? [String]) ?? []).joined(separator: ".") } == ["string_type@body.note"])

                let twice = Self.body(Self.part("file", filename: firstOfTwo, "one"), Self.part("file", filename: secondOfTwo, "two!"))
                let accepted = try await client.execute(
                    uri: "/attachments", method: .post, headers: [.contentType: Self.contentType], body: ByteBuffer(string: twice)
                )
                #expect(accepted.status == .ok)
                #expect(try object(accepted.body)["size"] as? Int == 4, "the last file under a key is the field's value")
            }
        }
    }
}

/// Uploads are reached through the request's own state: a file token resolves only inside the
/// request that received the file. The process-wide registry this replaced resolved any token
/// from anywhere (another request, a model decoded elsewhere) until it was claimed.
@Suite struct UploadScopeTests {
    static let file = UploadedFile(filename: "a.txt", contentType: "text/plain", size: 3, data: ByteBuffer(string: "abc"))

    static func read(_ token: JSONValue) -> UploadedFile? {
        var issues = IssueCollector()
        return UploadedFile.read(token, at: ["body", "file"], rules: FieldRules(), issues: &issues)
    }

    @Test func aFileTokenResolvesOnlyInsideTheRequestThatReceivedTheFile() async {
        let token = UploadedFile.token(at: 0)
        let inside = UploadedFile.$requestFiles.withValue([Self.file]) { Self.read(token) }
        #expect(inside?.filename == "a.txt")
        #expect(Self.read(token) == nil, "outside any request the token names nothing")
        let other = UploadedFile(filename: "b.txt", contentType: "text/plain", size: 1, data: ByteBuffer(string: "b"))
        let elsewhere = UploadedFile.$requestFiles.withValue([other]) { Self.read(token) }
        #expect(elsewhere?.filename == "b.txt", "another request's token index reaches only that request's own files")
        // Two requests at once, each reading its own file many times: never the other's.
        await withTaskGroup(of: Bool.self) { group in
            for (name, file) in [("a.txt", Self.file), ("b.txt", other)] {
                group.addTask {
                    await UploadedFile.$requestFiles.withValue([file]) {
                        for _ in 0..<1000 {
                            guard Self.read(token)?.filename == name else { return false }
                            await Task.yield()
                        }
                        return true
                    }
                }
            }
            for await ownOnly in group { #expect(ownOnly) }
        }
    }
}
