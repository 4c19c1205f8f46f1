// A local module that imports what is not supported.
import ws from "k6/ws";
export { ws };
