import Foundation

/// An OData error answer in F&O's shape: `{"error":{"code":"","message":…,"innererror":{…}}}`.
struct ODataError: Error, Sendable {
    var status: Int
    var message: String
    /// The useful text (`innererror.message`); `nil` for errors F&O sends without it.
    var inner: String?
    var innerType: String
    /// Extra response headers (e.g. `Retry-After`).
    var headers: [(name: String, value: String)] = []

    static let writeExceptionType = "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"
    static let odataExceptionType = "Microsoft.OData.ODataException"
    static let genericMessage = "An error has occurred."

    /// Unknown entity set: 404 without innererror.
    static var entitySetNotFound: ODataError {
        ODataError(status: 404, message: "Entity set not found.", inner: nil, innerType: "")
    }

    /// A 400 with the generic message and `inner` as the innererror text.
    static func badRequest(_ inner: String, type: String = odataExceptionType) -> ODataError {
        ODataError(status: 400, message: genericMessage, inner: inner, innerType: type)
    }

    /// A failed write (validation, FK, duplicate, read-only…) with its Infolog text.
    static func writeFailed(_ inner: String) -> ODataError {
        ODataError(status: 400, message: genericMessage, inner: inner, innerType: writeExceptionType)
    }

    /// PATCH/DELETE of a key that does not exist.
    static var noResourcesForUpdate: ODataError {
        writeFailed("No resources were found when selecting for update.")
    }

    var body: ODataValue {
        var error = ODataObject()
        error["code"] = ""
        error["message"] = .string(message)
        if let inner {
            error["innererror"] = .object(ODataObject([
                ("message", .string(inner)), ("type", .string(innerType)), ("stacktrace", ""),
            ]))
        }
        return .object(ODataObject([("error", .object(error))]))
    }
}
