import Testing
@testable import WooCommerceEmulator

@Test func emptyStoreAnswers() async {
    let emulator = WooCommerceEmulator()
    let r = await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders"))
    #expect(r.status == 401)
}
