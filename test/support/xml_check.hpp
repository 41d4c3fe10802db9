#pragma once
// A small well-formedness check for the XML sutra writes (the SVG of `bench --plot`): every
// element closed in order, attribute values quoted, no raw '<' or stray '&' in text, one root.
// Not a full XML parser (no DTD, CDATA or processing instructions but the declaration).
#include <map>
#include <string>
#include <vector>

namespace sutra::test {

struct XmlElement {
    std::string name;
    std::map<std::string, std::string> attributes;
};

struct XmlCheck {
    bool ok = false;
    std::string error;                 // where it went wrong
    std::vector<XmlElement> elements;  // every start tag, in document order
};

inline XmlCheck check_xml(const std::string& s) {
    XmlCheck r;
    std::vector<std::string> open;
    size_t i = 0, roots = 0;
    auto fail = [&](const std::string& why) {
        r.error = why + " at byte " + std::to_string(i);
        return r;
    };
    auto entity_ok = [&](size_t at) {
        for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
            if (s.compare(at, std::string(e).size(), e) == 0) return true;
        return false;
    };
    if (s.rfind("<?xml", 0) == 0) {
        i = s.find("?>");
        if (i == std::string::npos) return fail("unterminated XML declaration");
        i += 2;
    }
    while (i < s.size()) {
        if (s[i] != '<') {
            if (s[i] == '&' && !entity_ok(i)) return fail("stray '&' in text");
            if (open.empty() && s[i] != '\n' && s[i] != ' ') return fail("text outside the root");
            ++i;
            continue;
        }
        const size_t end = s.find('>', i);
        if (end == std::string::npos) return fail("unterminated tag");
        std::string tag = s.substr(i + 1, end - i - 1);
        if (!tag.empty() && tag[0] == '/') {
            const std::string name = tag.substr(1);
            if (open.empty() || open.back() != name) return fail("unexpected </" + name + ">");
            open.pop_back();
            i = end + 1;
            continue;
        }
        const bool empty = !tag.empty() && tag.back() == '/';
        if (empty) tag.pop_back();
        XmlElement el;
        size_t k = 0;
        while (k < tag.size() && tag[k] != ' ' && tag[k] != '\n')
            el.name += tag[k++];
        if (el.name.empty()) return fail("tag without a name");
        while (k < tag.size()) {
            while (k < tag.size() && (tag[k] == ' ' || tag[k] == '\n'))
                ++k;
            if (k >= tag.size()) break;
            std::string key;
            while (k < tag.size() && tag[k] != '=')
                key += tag[k++];
            if (k + 1 >= tag.size() || tag[k + 1] != '"') return fail("unquoted attribute " + key);
            const size_t close = tag.find('"', k + 2);
            if (close == std::string::npos) return fail("unterminated attribute " + key);
            const std::string value = tag.substr(k + 2, close - k - 2);
            if (value.find('<') != std::string::npos) return fail("'<' in attribute " + key);
            if (!el.attributes.emplace(key, value).second) return fail("attribute twice: " + key);
            k = close + 1;
        }
        if (open.empty() && ++roots > 1) return fail("second root element");
        if (!empty) open.push_back(el.name);
        r.elements.push_back(std::move(el));
        i = end + 1;
    }
    if (!open.empty()) return fail("<" + open.back() + "> never closed");
    if (roots != 1) return fail("no root element");
    r.ok = true;
    return r;
}

}  // namespace sutra::test
