// Loads the compiled addon; throws (like any require) when it was not built.

module.exports = require("./build/Release/gemm.node");
