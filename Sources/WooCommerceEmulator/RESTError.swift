/// A WordPress REST error: `{"code","message","data"}` with the HTTP status.
struct RESTError: Error, Sendable {
    var status: Int
    var code: String
    var message: String
    /// Usually `{"status":N,…}`; the refunds controller passes a bare integer.
    var data: WooJSON

    init(status: Int, code: String, message: String, data: WooJSON? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.data = data ?? .obj(["status": .int(status)])
    }

    var json: WooJSON { .obj(["code": .string(code), "message": .string(message), "data": data]) }

    static func invalidID(_ kind: String, status: Int) -> RESTError {
        RESTError(status: status, code: "woocommerce_rest_\(kind)_invalid_id", message: "Invalid ID.")
    }

    /// WordPress core's schema error, `data.params` + `data.details` as WordPress 6.8 writes them.
    static func invalidParam(_ name: String, message: String, detailCode: String, detailData: WooJSON) -> RESTError {
        RESTError(status: 400, code: "rest_invalid_param", message: "Invalid parameter(s): \(name)", data: .obj([
            "status": 400,
            "params": .obj([name: .string(message)]),
            "details": .obj([name: .obj(["code": .string(detailCode), "message": .string(message), "data": detailData])]),
        ]))
    }

    static func noRoute() -> RESTError {
        RESTError(status: 404, code: "rest_no_route", message: "No route was found matching the URL and request method.")
    }
}
