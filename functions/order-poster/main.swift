// order-poster: not in this build yet (issue 4, orders into F&O). Wiring only: it answers every input with a clear
// rejection so a deployment that routes events here fails loudly instead of dropping them.
import ConnectorFlows
import ConnectorRuntime
import Foundation

let code = await FunctionMain.run(name: "order-poster") { _ in
    NotYetAvailableFunction(name: "order-poster", issue: "issue 4, orders into F&O")
}
exit(code)
