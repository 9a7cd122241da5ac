import Foundation
import Logging
@testable import ServiceKit
import Testing

@Suite struct JSONLogHandlerTests {
    /// Logs through a handler writing to a pipe and returns the parsed lines.
    func capture(level: Logger.Level = .info, _ body: (inout Logger) -> Void) throws -> [[String: Any]] {
        let pipe = Pipe()
        let sink = LogSink(fileDescriptor: pipe.fileHandleForWriting.fileDescriptor)
        let levels = LogLevels(root: level)
        var logger = Logger(label: "test.logger") { label in
            JSONLogHandler(label: label, service: "demo", sink: sink, levels: levels)
        }
        body(&logger)
        sink.flush()
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test func eachRecordIsOneJSONObjectWithTheContractFields() throws {
        let lines = try capture { logger in
            logger[metadataKey: "request_id"] = "abc"
            logger.info("hello \"world\"\nnext", metadata: ["status": .stringConvertible(201), "duration_ms": .stringConvertible(1.5)])
        }
        #expect(lines.count == 1)
        let line = lines[0]
        #expect(line["level"] as? String == "info")
        #expect(line["service"] as? String == "demo")
        #expect(line["logger"] as? String == "test.logger")
        #expect(line["msg"] as? String == "hello \"world\"\nnext")
        #expect(line["request_id"] as? String == "abc")
        #expect(line["status"] as? Int == 201)
        #expect(line["duration_ms"] as? Double == 1.5)
        let ts = try #require(line["ts"] as? String)
        #expect(ts.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil)
    }

    @Test func aRequestsIdentityIsWrittenAsFiveFieldsEachOnceWithTheEventWinning() throws {
        let pipe = Pipe()
        let sink = LogSink(fileDescriptor: pipe.fileHandleForWriting.fileDescriptor)
        let levels = LogLevels(root: .info)
        let provider = Logger.MetadataProvider { ["trace_id": "from-provider", "tenant": "t1"] }
        var logger = Logger(label: "x") { JSONLogHandler(label: $0, service: "demo", sink: sink, levels: levels, metadataProvider: provider) }
        logger[metadataKey: RequestLogFields.key] = .stringConvertible(RequestLogFields(
            requestID: "r1", traceID: "t" + String(repeating: "0", count: 31), spanID: "s" + String(repeating: "0", count: 15),
            method: "GET", route: "/items/{id}"))
        #expect(logger[metadataKey: "request_id"]?.description == "r1", "other handlers see the request id")
        logger.info("request", metadata: ["route": "NotFound", "status": .stringConvertible(JSONNumber(404))])
        sink.flush()
        try pipe.fileHandleForWriting.close()
        let line = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        for key in ["request_id", "trace_id", "span_id", "method", "route", "tenant", "status"] {
            #expect(line.components(separatedBy: "\"\(key)\":").count == 2, "\(key) once in \(line)")
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["request_id"] as? String == "r1")
        #expect(object["trace_id"] as? String == "t" + String(repeating: "0", count: 31), "the request's trace, not the provider's")
        #expect(object["method"] as? String == "GET")
        #expect(object["route"] as? String == "NotFound", "the event's own field wins")
        #expect(object["tenant"] as? String == "t1")
    }

    @Test func recordsBelowTheLevelAreDroppedAndTheLevelChangesAtRunTime() throws {
        let pipe = Pipe()
        let sink = LogSink(fileDescriptor: pipe.fileHandleForWriting.fileDescriptor)
        let levels = LogLevels(root: .info)
        let logger = Logger(label: "x") { JSONLogHandler(label: $0, service: "demo", sink: sink, levels: levels) }
        logger.debug("hidden")
        levels.set(.debug)
        logger.debug("shown")
        levels.set(.error, for: "x")
        logger.warning("hidden too")
        sink.flush()
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("shown"))
        #expect(!text.contains("hidden"))
        #expect(levels.snapshot().loggers["x"] == .error)
    }

    @Test func aFullSinkDropsLinesInsteadOfBlocking() throws {
        let pipe = Pipe()
        let sink = LogSink(fileDescriptor: pipe.fileHandleForWriting.fileDescriptor, capacity: 0)
        sink.write(Array("x".utf8))
        #expect(sink.dropped == 1)
    }
}
