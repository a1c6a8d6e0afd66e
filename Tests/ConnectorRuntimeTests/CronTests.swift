import ConnectorCore
import Foundation
import Testing

/// The connection's `schedules` (SPEC §6) as Kubernetes CronJob and Knative PingSource read
/// them: every field form, the day-of-month/day-of-week rule, month ends and leap years, and a
/// clear error for each kind of bad input.
@Suite("Cron")
struct CronTests {
    static func utc(_ text: String) -> Date {
        guard let date = Formatting.parseTimestamp(text) else { fatalError("bad test timestamp \(text)") }
        return date
    }

    struct Case: Sendable, CustomStringConvertible {
        let expression: String
        let after: String
        let next: String
        var description: String { "\(expression) after \(after)" }
    }

    /// Expected instants computed by hand and cross-checked with an independent minute-by-minute
    /// scan (Vixie cron semantics) outside this code base.
    static let table: [Case] = [
        Case(expression: "*/5 * * * *", after: "2026-11-27T01:02:03Z", next: "2026-11-27T01:05:00Z"),
        // Strictly after: a fire time is not its own next.
        Case(expression: "*/5 * * * *", after: "2026-11-27T01:05:00Z", next: "2026-11-27T01:10:00Z"),
        Case(expression: "0 * * * *", after: "2026-11-27T01:59:59Z", next: "2026-11-27T02:00:00Z"),
        // Across the year end.
        Case(expression: "30 23 * * *", after: "2026-12-31T23:31:00Z", next: "2027-01-01T23:30:00Z"),
        Case(expression: "59 23 31 12 *", after: "2026-12-31T23:59:00Z", next: "2027-12-31T23:59:00Z"),
        // Month ends: the 1st after a 31st; the 31st skips April; the 30th skips February.
        Case(expression: "0 0 1 * *", after: "2026-01-31T12:00:00Z", next: "2026-02-01T00:00:00Z"),
        Case(expression: "0 0 31 * *", after: "2026-04-01T00:00:00Z", next: "2026-05-31T00:00:00Z"),
        Case(expression: "0 0 30 * *", after: "2026-01-30T00:00:00Z", next: "2026-03-30T00:00:00Z"),
        // Leap years: 29 February comes in 2028; 2100 is not a leap year (Gregorian rule).
        Case(expression: "0 0 29 2 *", after: "2026-03-01T00:00:00Z", next: "2028-02-29T00:00:00Z"),
        Case(expression: "0 0 29 2 *", after: "2099-03-01T00:00:00Z", next: "2104-02-29T00:00:00Z"),
        // Day-of-week names and ranges (2026-11-27 is a Friday); 7 and 0 are both Sunday.
        Case(expression: "0 9 * * MON-FRI", after: "2026-11-27T09:00:00Z", next: "2026-11-30T09:00:00Z"),
        Case(expression: "0 0 * * 7", after: "2026-11-27T00:00:00Z", next: "2026-11-29T00:00:00Z"),
        Case(expression: "0 0 * * 0", after: "2026-11-27T00:00:00Z", next: "2026-11-29T00:00:00Z"),
        Case(expression: "0 0 * * sun", after: "2026-11-27T00:00:00Z", next: "2026-11-29T00:00:00Z"),
        Case(expression: "0 0 * * 5-7", after: "2026-11-28T00:00:00Z", next: "2026-11-29T00:00:00Z"),
        Case(expression: "0 0 * * 5-7", after: "2026-11-29T00:00:00Z", next: "2026-12-04T00:00:00Z"),
        // Both day fields restricted: either matches (a Monday comes before the 1st; then the 1st, a Tuesday).
        Case(expression: "0 0 1 * MON", after: "2026-11-27T00:00:00Z", next: "2026-11-30T00:00:00Z"),
        Case(expression: "0 0 1 * MON", after: "2026-11-30T00:00:00Z", next: "2026-12-01T00:00:00Z"),
        Case(expression: "0 0 29 2 1", after: "2026-03-01T00:00:00Z", next: "2027-02-01T00:00:00Z"),
        // One day field starting with `*`: both must match (Monday the 21st).
        Case(expression: "0 0 */10 * MON", after: "2026-11-27T00:00:00Z", next: "2026-12-21T00:00:00Z"),
        // Month names (any case) and lists.
        Case(expression: "15 10 * JAN,jul *", after: "2026-11-27T00:00:00Z", next: "2027-01-01T10:15:00Z"),
        Case(expression: "15 10 * 2-3 *", after: "2026-11-27T00:00:00Z", next: "2027-02-01T10:15:00Z"),
        Case(expression: "1,2,40 * * * *", after: "2026-11-27T01:02:00Z", next: "2026-11-27T01:40:00Z"),
        // Stepped ranges, `a/n`, and the next hour when the hour's minutes are used up.
        Case(expression: "0-10/5 8-9 * * *", after: "2026-11-27T08:10:00Z", next: "2026-11-27T09:00:00Z"),
        Case(expression: "0-10/5 8-9 * * *", after: "2026-11-27T09:10:00Z", next: "2026-11-28T08:00:00Z"),
        Case(expression: "5/20 * * * *", after: "2026-11-27T01:46:00Z", next: "2026-11-27T02:05:00Z"),
        Case(expression: "59 * * * *", after: "2026-11-27T01:59:30Z", next: "2026-11-27T02:59:00Z"),
        Case(expression: "0 */6 * * *", after: "2026-11-27T18:00:00Z", next: "2026-11-28T00:00:00Z"),
        // Macros.
        Case(expression: "@daily", after: "2026-11-27T00:00:00Z", next: "2026-11-28T00:00:00Z"),
        Case(expression: "@hourly", after: "2026-11-27T00:00:00Z", next: "2026-11-27T01:00:00Z"),
        Case(expression: "@weekly", after: "2026-11-27T00:00:00Z", next: "2026-11-29T00:00:00Z"),
        Case(expression: "@monthly", after: "2026-11-27T00:00:00Z", next: "2026-12-01T00:00:00Z"),
        Case(expression: "@yearly", after: "2026-11-27T00:00:00Z", next: "2027-01-01T00:00:00Z"),
        // Extra spaces between fields are fine.
        Case(expression: "  0  12   * *  *  ", after: "2026-11-27T12:00:00Z", next: "2026-11-28T12:00:00Z"),
    ]

    @Test("next fire time", arguments: table)
    func nextFireTime(_ c: Case) throws {
        let cron = try CronExpression(c.expression)
        let next = try #require(cron.next(after: Self.utc(c.after)))
        #expect(Formatting.timestamp(next) == Formatting.timestamp(Self.utc(c.next)), "\(c)")
        #expect(cron.matches(next))
    }

    /// The jumping search against a plain minute-by-minute walk over six weeks, for each form:
    /// every minute it skips is a minute that does not match.
    @Test("next agrees with a minute-by-minute walk", arguments: ["*/7 * * * *", "0 9 * * MON-FRI", "0 0 1 * MON", "0 0 */10 * MON", "3-9/3 */5 * * *", "0 0 31 * *", "@hourly"])
    func nextAgreesWithAWalk(_ expression: String) throws {
        let cron = try CronExpression(expression)
        var walk = Self.utc("2026-11-20T00:00:00Z")
        let end = Self.utc("2027-01-02T00:00:00Z")
        var jumped = try #require(cron.next(after: walk.addingTimeInterval(-1)))
        var fired = 0
        while walk < end {
            if cron.matches(walk) {
                #expect(walk == jumped, "\(expression): the walk fires at \(Formatting.timestamp(walk)), next() said \(Formatting.timestamp(jumped))")
                jumped = try #require(cron.next(after: walk))
                fired += 1
            }
            walk = walk.addingTimeInterval(60)
        }
        #expect(fired > 0)
    }

    @Test("seconds in the start instant are ignored; the result is a whole minute")
    func wholeMinutes() throws {
        let next = try #require(try CronExpression("* * * * *").next(after: Self.utc("2026-11-27T01:02:59.999Z")))
        #expect(Formatting.timestamp(next) == "2026-11-27T01:03:00.000Z")
    }

    /// Connection schedules are UTC; other zones are read on their wall clock, and daylight
    /// saving skips a wall time that does not occur and fires twice on one that occurs twice.
    @Test("a time zone with daylight saving")
    func daylightSaving() throws {
        let amsterdam = try #require(TimeZone(identifier: "Europe/Amsterdam"))
        let cron = try CronExpression("30 2 * * *")
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST, so 02:30 happens on the 30th (00:30Z).
        #expect(cron.next(after: Self.utc("2026-03-28T01:31:00Z"), timeZone: amsterdam) == Self.utc("2026-03-30T00:30:00Z"))
        // 25 October 2026: 03:00 CEST falls back to 02:00 CET, so 02:30 occurs twice.
        let first = try #require(cron.next(after: Self.utc("2026-10-24T23:00:00Z"), timeZone: amsterdam))
        #expect(first == Self.utc("2026-10-25T00:30:00Z"))
        #expect(cron.next(after: first, timeZone: amsterdam) == Self.utc("2026-10-25T01:30:00Z"))
        // A whole-hour offset zone.
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        #expect(try CronExpression("0 9 * * *").next(after: Self.utc("2026-11-27T00:00:00Z"), timeZone: tokyo) == Self.utc("2026-11-28T00:00:00Z"))
    }

    struct Bad: Sendable, CustomStringConvertible {
        let expression: String
        let says: [String]
        var description: String { "'\(expression)'" }
    }

    static let bad: [Bad] = [
        Bad(expression: "*/5 * * *", says: ["must have five fields", "4 fields"]),
        Bad(expression: "", says: ["must have five fields", "empty"]),
        Bad(expression: "0 */5 * * * *", says: ["Quartz", "drop the seconds"]),
        Bad(expression: "60 * * * *", says: ["minute field (first)", "60, outside 0-59"]),
        Bad(expression: "* 24 * * *", says: ["hour field (second)", "outside 0-23"]),
        Bad(expression: "* * 0 * *", says: ["day-of-month field (third)", "outside 1-31"]),
        Bad(expression: "* * * 13 *", says: ["month field (fourth)", "1-12 or JAN-DEC"]),
        Bad(expression: "* * * * 8", says: ["day-of-week field (fifth)", "0 and 7 are Sunday"]),
        Bad(expression: "* * * FOO *", says: ["month field", "'FOO', which is not a number or a name"]),
        Bad(expression: "* * * * MON-FOO", says: ["day-of-week field", "'FOO'"]),
        Bad(expression: "*/0 * * * *", says: ["minute field", "step 0", "*/5"]),
        Bad(expression: "*/x * * * *", says: ["minute field", "step 'x'"]),
        Bad(expression: "*/60 * * * *", says: ["minute field", "larger than the field's range"]),
        Bad(expression: "5-1 * * * *", says: ["minute field", "runs backwards", "22-23,0-2"]),
        Bad(expression: "1,,2 * * * *", says: ["minute field", "empty list item"]),
        Bad(expression: "1/2/3 * * * *", says: ["more than one '/'"]),
        Bad(expression: "0 0 30 2 *", says: ["never fires", "'30'"]),
        Bad(expression: "0 0 31 4,6,9,11 *", says: ["never fires", "1-28"]),
        Bad(expression: "@every 5m", says: ["unknown macro", "@hourly"]),
        Bad(expression: "-1 * * * *", says: ["minute field", "empty value"]),
    ]

    @Test("bad input names the field and the fix", arguments: bad)
    func badInput(_ b: Bad) {
        do {
            _ = try CronExpression(b.expression)
            Issue.record("\(b) was accepted")
        } catch let error as ConnectorError {
            #expect(error.label == "invalidInput")
            #expect(!error.fix.isEmpty, "\(b): no fix in \(error)")
            for fragment in b.says { #expect(error.description.contains(fragment), "\(b): '\(fragment)' missing from: \(error.description)") }
        } catch {
            Issue.record("\(b): unexpected \(error)")
        }
    }

    @Test("never-fire check leaves reachable days alone")
    func reachableDays() throws {
        // 29 February fires in leap years; the 31st fires in the months that have one; with a
        // weekday named too, the OR rule makes any month day reachable.
        _ = try CronExpression("0 0 29 2 *")
        _ = try CronExpression("0 0 31 1-4 *")
        _ = try CronExpression("0 0 30 2 MON")
        #expect(try CronExpression("0 0 30 2 MON").next(after: Self.utc("2026-11-27T00:00:00Z")) == Self.utc("2027-02-01T00:00:00Z"))
    }
}
