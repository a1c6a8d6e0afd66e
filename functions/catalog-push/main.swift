// catalog-push: not in this build yet (issue 5, catalog push). Wiring only: it answers every input with a clear
// rejection so a deployment that routes events here fails loudly instead of dropping them.
import ConnectorFlows
import ConnectorRuntime
import Foundation

let code = await FunctionMain.run(name: "catalog-push") { _ in
    NotYetAvailableFunction(name: "catalog-push", issue: "issue 5, catalog push")
}
exit(code)
