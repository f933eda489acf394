// The loader hook behind recordLoads.mjs: tells the main thread of every module it loads.
let port;
export function initialize(data) {
  port = data.port;
}
export async function load(url, context, next) {
  port.postMessage(url);
  return next(url, context);
}
