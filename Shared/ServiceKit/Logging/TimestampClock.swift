import Foundation

/// Formats the current time for log lines without a lock: the civil date is computed from the
/// epoch seconds directly. A cache shared by every logging thread needed a lock, and so does glibc's
/// `gmtime_r` (its time-zone lock); under load either one made logging threads wait on each other.
enum TimestampClock {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` as bytes.
    static func now() -> [UInt8] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var bytes = dateAndSecond(now.tv_sec)
        bytes.append(UInt8(ascii: "."))
        digits(Int(now.tv_nsec / 1_000_000), 3, into: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        return bytes
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC as bytes. Foundation's date formatters would load ICU's
    /// calendar and time-zone data (3 MiB resident) to do the same.
    static func dateAndSecond(_ time: time_t) -> [UInt8] {
        let seconds = Int(time)
        let days = seconds.floorDivided(by: 86_400)
        let clock = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        digits(year, 4, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(month, 2, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(day, 2, into: &bytes)
        bytes.append(UInt8(ascii: "T"))
        digits(clock / 3600, 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(clock / 60 % 60, 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(clock % 60, 2, into: &bytes)
        return bytes
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`, exact for every day a log line can carry).
    static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// `date` as ISO 8601 in UTC to the second (`2026-12-01T10:29:12Z`).
    static func iso8601(_ date: Date) -> String {
        String(decoding: dateAndSecond(time_t(date.timeIntervalSince1970.rounded(.down))) + [UInt8(ascii: "Z")], as: UTF8.self)
    }

    static func digits(_ value: Int, _ width: Int, into bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}

extension Int {
    /// Division rounding towards minus infinity, for dates before 1970.
    fileprivate func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
