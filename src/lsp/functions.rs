//! The JSONata built-in functions, for hover and completion in transforms: a signature and one
//! sentence each (written here from the JSONata function library's documented behaviour; a test
//! checks that the engine cxsync runs defines every one of them).

/// `(name without `$`, signature, what it does)`, sorted by name.
pub static FUNCTIONS: &[(&str, &str, &str)] = &[
    ("abs", "$abs(number)", "The absolute value of `number`."),
    ("append", "$append(array1, array2)", "`array1` followed by `array2` (scalars count as one-item arrays)."),
    ("assert", "$assert(condition, message)", "Raises an error with `message` when `condition` is false."),
    ("average", "$average(array)", "The mean of an array of numbers."),
    ("base64decode", "$base64decode(str)", "Decodes a Base64 string (UTF-8 text)."),
    ("base64encode", "$base64encode(str)", "Encodes a string as Base64 (of its UTF-8 bytes)."),
    ("boolean", "$boolean(arg)", "`arg` cast to a Boolean: empty strings, zero, null, empty arrays and objects are false."),
    ("ceil", "$ceil(number)", "`number` rounded up to the next integer."),
    ("contains", "$contains(str, pattern)", "Whether `str` contains `pattern` (a string or a regex)."),
    ("count", "$count(array)", "The number of items in `array` (1 for a single value, 0 for undefined)."),
    ("decodeUrl", "$decodeUrl(str)", "Decodes a URL encoded with `$encodeUrl`."),
    ("decodeUrlComponent", "$decodeUrlComponent(str)", "Decodes a URL component encoded with `$encodeUrlComponent`."),
    ("distinct", "$distinct(array)", "`array` with duplicate values removed, first occurrences kept."),
    ("each", "$each(object, function(value, key))", "The results of calling the function on each key/value pair of `object`."),
    ("encodeUrl", "$encodeUrl(str)", "Percent-encodes a whole URL (reserved characters kept)."),
    ("encodeUrlComponent", "$encodeUrlComponent(str)", "Percent-encodes a URL component (reserved characters encoded too)."),
    ("error", "$error(message)", "Stops the evaluation with an error carrying `message`."),
    ("eval", "$eval(expr [, context])", "Evaluates the JSONata text `expr`, against `context` or the current input."),
    ("exists", "$exists(arg)", "True when `arg` evaluates to a value (false for undefined, e.g. a missing field)."),
    ("filter", "$filter(array, function(value [, index [, array]]))", "The items of `array` for which the function returns true."),
    ("floor", "$floor(number)", "`number` rounded down to the previous integer."),
    ("formatBase", "$formatBase(number [, radix])", "`number` as a string in base `radix` (2 to 36, default 10)."),
    ("formatInteger", "$formatInteger(number, picture)", "An integer formatted by an XPath picture (`'000'`, `'w'` for words, `'I'` for roman numerals)."),
    ("formatNumber", "$formatNumber(number, picture [, options])", "A number formatted by an XPath decimal picture, e.g. `'#,##0.00'`."),
    ("fromMillis", "$fromMillis(millis [, picture [, timezone]])", "Milliseconds since the epoch as an ISO 8601 timestamp, or formatted by an XPath picture."),
    ("join", "$join(array [, separator])", "The strings of `array` joined with `separator` (default empty)."),
    ("keys", "$keys(object)", "The keys of `object` (of every object, for an array of objects)."),
    ("length", "$length(str)", "The number of characters in `str`."),
    ("lookup", "$lookup(object, key)", "The value of `key` in `object` (undefined when absent)."),
    ("lowercase", "$lowercase(str)", "`str` in lower case."),
    ("map", "$map(array, function(value [, index [, array]]))", "The results of calling the function on each item of `array`."),
    ("match", "$match(str, pattern [, limit])", "The regex matches in `str`: each with `match`, `index` and `groups`."),
    ("max", "$max(array)", "The largest number in `array`."),
    ("merge", "$merge(array<object>)", "One object with the keys of all the objects (later keys win)."),
    ("millis", "$millis()", "The evaluation's current time in milliseconds since the epoch (cxsync freezes it in tests)."),
    ("min", "$min(array)", "The smallest number in `array`."),
    ("not", "$not(arg)", "The Boolean negation of `arg` (cast as `$boolean` does)."),
    ("now", "$now([picture [, timezone]])", "The evaluation's current time as an ISO 8601 timestamp (cxsync freezes it in tests: `test.now`)."),
    ("number", "$number(arg)", "`arg` cast to a number (strings are parsed as JSON numbers, booleans are 0 or 1)."),
    ("pad", "$pad(str, width [, char])", "`str` padded to `width` characters with `char` (default space); a negative width pads on the left."),
    ("parseInteger", "$parseInteger(str, picture)", "Parses an integer written as an XPath picture describes."),
    ("power", "$power(base, exponent)", "`base` raised to `exponent`."),
    ("random", "$random()", "A pseudo-random number in [0, 1)."),
    ("reduce", "$reduce(array, function(accumulator, value [, index [, array]]) [, init])", "Folds `array` into one value."),
    ("replace", "$replace(str, pattern, replacement [, limit])", "`str` with matches of `pattern` (a string or regex) replaced; `$1`… refer to groups."),
    ("reverse", "$reverse(array)", "`array` in reverse order."),
    ("round", "$round(number [, precision])", "`number` rounded to `precision` decimal places, half to even (`$round(2.5)` is 2)."),
    ("shuffle", "$shuffle(array)", "`array` in random order."),
    ("sift", "$sift(object, function(value [, key [, object]]))", "The key/value pairs of `object` for which the function returns true."),
    ("single", "$single(array [, function])", "The one item of `array` (that the function accepts); an error when there is not exactly one."),
    ("sort", "$sort(array [, function(left, right)])", "`array` sorted; the function returns true when `left` goes after `right`."),
    ("split", "$split(str, separator [, limit])", "`str` split at `separator` (a string or regex) into an array."),
    ("spread", "$spread(object)", "An array of one-key objects, one per key of `object`."),
    ("sqrt", "$sqrt(number)", "The square root of `number`."),
    ("string", "$string(arg [, prettify])", "`arg` cast to a string (objects and arrays as JSON)."),
    ("substring", "$substring(str, start [, length])", "`length` characters of `str` from `start` (0-based; a negative start counts from the end)."),
    ("substringAfter", "$substringAfter(str, chars)", "What follows the first occurrence of `chars` in `str` (all of `str` when absent)."),
    ("substringBefore", "$substringBefore(str, chars)", "What precedes the first occurrence of `chars` in `str` (all of `str` when absent)."),
    ("sum", "$sum(array)", "The sum of an array of numbers."),
    ("toMillis", "$toMillis(timestamp [, picture])", "An ISO 8601 timestamp (or one matching an XPath picture) as milliseconds since the epoch."),
    ("trim", "$trim(str)", "`str` with whitespace at both ends removed and runs of whitespace collapsed to one space."),
    ("type", "$type(value)", "The JSON type of `value`: `\"string\"`, `\"number\"`, `\"boolean\"`, `\"null\"`, `\"array\"`, `\"object\"` or `\"function\"`."),
    ("uppercase", "$uppercase(str)", "`str` in upper case."),
    ("zip", "$zip(array1, …)", "An array of arrays, the n-th holding the n-th item of each argument."),
];

/// The entry of a function, by name without `$`.
pub fn find(name: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    FUNCTIONS.iter().find(|f| f.0 == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_the_engine_defines_every_function() {
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        let now = crate::transform::default_now();
        for (name, sig, _) in FUNCTIONS {
            assert!(sig.starts_with(&format!("${name}(")), "{sig}");
            let t = crate::transform::Transform::compile_engine_only(&format!("$type(${name})"))
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let v = t.eval(&serde_json::json!({}), now).unwrap();
            assert_eq!(v, Some(serde_json::json!("function")), "${name}");
        }
        // A name that is no function stays undefined in the engine: the check above can fail.
        let t = crate::transform::Transform::compile_engine_only("$type($nosuchfunction)").unwrap();
        assert_eq!(t.eval(&serde_json::json!({}), now).unwrap(), None);
    }
}
