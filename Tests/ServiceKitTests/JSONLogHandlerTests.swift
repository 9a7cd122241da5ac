import Foundation
import Logging
@testable import ServiceKit
import Testing

@Suite struct JSONLogHandlerTests {
    /// Logs through a handler writing to a pipe and returns what it wrote.
    func captureText(
        level: Logger.Level = .info, label: String = "test.logger", provider: Logger.MetadataProvider? = nil,
        _ body: (inout Logger, LogLevels) throws -> Void
    ) throws -> String {
        let pipe = Pipe()
        let sink = LogSink(fileDescriptor: pipe.fileHandleForWriting.fileDescriptor)
        let levels = LogLevels(root: level)
        var logger = Logger(label: label) { label in
            JSONLogHandler(label: label, service: "demo", sink: sink, levels: levels, metadataProvider: provider)
        }
        try body(&logger, levels)
        sink.flush()
        try pipe.fileHandleForWriting.close()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Logs through a handler writing to a pipe and returns the parsed lines.
    func capture(level: Logger.Level = .info, _ body: (inout Logger) -> Void) throws -> [[String: Any]] {
        let text = try captureText(level: level) { logger, _ in body(&logger) }
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
        let provider = Logger.MetadataProvider { ["trace_id": "from-provider", "tenant": "t1"] }
        let line = try captureText(provider: provider) { logger, _ in
            logger[metadataKey: RequestLogFields.key] = .stringConvertible(RequestLogFields(
                requestID: "r1", traceID: "t" + String(repeating: "0", count: 31), spanID: "s" + String(repeating: "0", count: 15),
                method: "GET", route: "/items/{id}"))
            #expect(logger[metadataKey: "request_id"]?.description == "r1", "other handlers see the request id")
            logger.info("request", metadata: ["route": "NotFound", "status": .stringConvertible(JSONNumber(404))])
        }
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
        levels.set(.trace)
        logger.info("hidden still: the override outlives a root change")
        let later = Logger(label: "x") { JSONLogHandler(label: $0, service: "demo", sink: sink, levels: levels) }
        later.warning("hidden for a logger made after the override")
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

    @Test func theAccessLineIsTheLineLoggerInfoWouldWrite() throws {
        let provider = Logger.MetadataProvider { ["tenant": "t1", "status": "from-provider"] }
        let text = try captureText(provider: provider) { logger, levels in
            logger[metadataKey: RequestLogFields.key] = .stringConvertible(RequestLogFields(
                requestID: "r1", traceID: "t1", spanID: "s1", method: "GET", route: "/items/{id}"))
            logger[metadataKey: "hb.request.id"] = "7"
            logger.info("request", metadata: [
                "route": "/items/{id}", "path": "/items/\"1\"", "status": .stringConvertible(JSONNumber(200)),
                "duration_ms": .stringConvertible(JSONNumber(0.125)),
            ])
            // What ObservabilityMiddleware logs: one metadata value for the four access fields.
            logger.info("request", metadata: [AccessLogFields.key: .stringConvertible(AccessLogFields(
                route: "/items/{id}", path: "/items/\"1\"", status: 200, milliseconds: 0.125))])
            levels.set(.warning)
            logger.info("request", metadata: [AccessLogFields.key: .stringConvertible(AccessLogFields(
                route: "/items/{id}", path: "/hidden", status: 200, milliseconds: 1))])
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2, "the access line respects the level")
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let withoutTime = objects.map { object in
            object.filter { $0.key != "ts" }.mapValues { "\($0)" }
        }
        #expect(withoutTime[0] == withoutTime[1])
        #expect(objects[1]["status"] as? Int == 200, "the event's status wins over the provider's")
        #expect(objects[1]["tenant"] as? String == "t1")
        #expect(objects[1]["path"] as? String == "/items/\"1\"")
        for key in ["route", "status", "request_id"] {
            #expect(lines[1].components(separatedBy: "\"\(key)\":").count == 2, "\(key) once in \(lines[1])")
        }
    }

    @Test func timestampsAreTheUTCCalendarsAcrossLeapYearsAndCenturies() {
        // Every 7 days and 13 hours from 1901 to 2399, plus the edges, against glibc's calendar.
        var moments: [Int] = [0, -1, 951_782_400, 951_868_799, 4_107_542_400, 1_798_761_599]
        var moment = -2_145_916_800
        while moment < 13_569_465_600 {
            moments.append(moment)
            moment += 7 * 86_400 + 13 * 3600 + 17
        }
        for moment in moments {
            var seconds = time_t(moment)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            let expected = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
            let written = String(decoding: TimestampClock.dateAndSecond(time_t(moment)), as: UTF8.self)
            guard written == expected else {
                Issue.record("\(moment): \(written), expected \(expected)")
                return
            }
        }
    }
}
