// backfill-poll: not in this build yet (issue 6, backfill and webhook health). Wiring only: it answers every input with a clear
// rejection so a deployment that routes events here fails loudly instead of dropping them.
import ConnectorFlows
import ConnectorRuntime
import Foundation

let code = await FunctionMain.run(name: "backfill-poll") { _ in
    NotYetAvailableFunction(name: "backfill-poll", issue: "issue 6, backfill and webhook health")
}
exit(code)
