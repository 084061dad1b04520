import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/**
 * A full garbage collection now, without starting node with --expose-gc: the flag set at run time
 * exposes `gc` to contexts made after it. For the one place where a large structure was just let go
 * and native code (DuckDB) is about to allocate: V8 would not collect by itself, since nothing
 * allocates on its heap meanwhile, and the freed typed arrays would stay in the RSS beside DuckDB's.
 */
export const collectGarbage = () => {
  setFlagsFromString("--expose-gc")
  ;(runInNewContext("gc") as () => void)()
}
