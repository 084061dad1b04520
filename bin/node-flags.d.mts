/** bin/node-flags.mjs: the V8 flags every `fleuve` process starts with (why: there). */
export declare const NODE_FLAGS: ReadonlyArray<string>
