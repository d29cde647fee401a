// Validates an OpenAPI document with @apidevtools/swagger-parser: the JSON Schema of OpenAPI 3.0
// plus its semantic checks (every $ref resolves, unique operationIds, path parameters declared...).
//   node validate.mjs DOCUMENT
import SwaggerParser from "@apidevtools/swagger-parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs DOCUMENT");
  process.exit(2);
}
try {
  const api = await SwaggerParser.validate(path);
  const operations = Object.values(api.paths).flatMap((item) =>
    ["get", "put", "post", "delete", "options", "head", "patch", "trace"].filter((m) => item[m]));
  console.log(`validate: ${path} is a valid OpenAPI ${api.openapi} document (${operations.length} operations)`);
} catch (error) {
  console.error(`validate: ${path} is not a valid OpenAPI document:\n${error.message}`);
  process.exit(1);
}
