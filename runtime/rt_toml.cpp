/*  =========================================================================
    rt_toml.cpp - toml++ behind a C API (see rt_toml.h)

    Built with C++ exceptions on: toml++ reports parse errors by throwing
    toml::parse_error, and every exception is caught here, so none crosses
    into C.
    =========================================================================
*/
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include <sys/stat.h>
#include <toml++/toml.h>

#include "rt_toml.h"

struct rt_toml {
    std::vector<rt_toml_entry_t> entries;
    std::vector<std::string> strings;           /* owns every str */
    std::vector<std::vector<const char *>> arrays;
};

namespace {

struct flattener {
    rt_toml *doc;
    std::string error;

    const char *keep (const std::string &s)
    {
        doc->strings.push_back (s);
        return doc->strings.back ().c_str ();
    }

    void add (const std::string &path, const toml::node &n, const toml::source_region &at)
    {
        rt_toml_entry_t e;
        std::memset (&e, 0, sizeof e);
        std::snprintf (e.path, sizeof e.path, "%s", path.c_str ());
        e.line = (int) at.begin.line;
        e.col = (int) at.begin.column;
        if (n.is_table ())
            e.kind = RT_TOML_TABLE;
        else if (auto s = n.as_string ()) {
            const std::string &v = s->get ();
            if (v.find ('\0') != std::string::npos && error.empty ())
                error = path + ": string contains a NUL character";
            e.kind = RT_TOML_STRING;
            e.str = nullptr;            /* set after all strings are kept */
            e.i = (int64_t) doc->strings.size ();
            keep (v);
        }
        else if (auto i = n.as_integer ()) {
            e.kind = RT_TOML_INT;
            e.i = i->get ();
        }
        else if (auto d = n.as_floating_point ()) {
            e.kind = RT_TOML_FLOAT;
            e.d = d->get ();
        }
        else if (auto b = n.as_boolean ()) {
            e.kind = RT_TOML_BOOL;
            e.b = b->get ();
        }
        else if (auto a = n.as_array ()) {
            bool strings = true;
            for (auto &&item : *a)
                strings = strings && item.is_string ();
            if (strings) {
                e.kind = RT_TOML_STRING_ARRAY;
                e.i = (int64_t) doc->strings.size ();
                e.nstrs = a->size ();
                for (auto &&item : *a)
                    keep (item.as_string ()->get ());
            }
            else
                e.kind = RT_TOML_OTHER;
        }
        else
            e.kind = RT_TOML_OTHER;
        doc->entries.push_back (e);
    }

    void walk (const toml::table &t, const std::string &prefix)
    {
        for (auto &&[k, v] : t) {
            std::string path = prefix.empty () ? std::string (k.str ()) : prefix + "." + std::string (k.str ());
            if (auto sub = v.as_table ()) {
                add (path, v, k.source ());
                walk (*sub, path);
            }
            else if (v.is_array_of_tables ()) {
                auto &arr = *v.as_array ();
                for (size_t i = 0; i < arr.size (); i++) {
                    std::string elem = path + "[" + std::to_string (i) + "]";
                    rt_toml_entry_t e;
                    std::memset (&e, 0, sizeof e);
                    std::snprintf (e.path, sizeof e.path, "%s", elem.c_str ());
                    e.kind = RT_TOML_TABLE_ELEM;
                    e.line = (int) arr[i].source ().begin.line;
                    e.col = (int) arr[i].source ().begin.column;
                    doc->entries.push_back (e);
                    walk (*arr[i].as_table (), elem);
                }
            }
            else
                add (path, v, k.source ());
        }
    }
};

}   // namespace

extern "C" rt_toml_t *
rt_toml_parse_file (const char *path, size_t max_bytes, char *err, size_t errlen)
{
    struct stat st;
    if (stat (path, &st) != 0) {
        std::snprintf (err, errlen, "%s:0:0: cannot read: %s", path, std::strerror (errno));
        return nullptr;
    }
    if ((size_t) st.st_size > max_bytes) {
        std::snprintf (err, errlen, "%s:0:0: file is %lld bytes, over the %zu-byte limit",
                       path, (long long) st.st_size, max_bytes);
        return nullptr;
    }
    rt_toml *doc = nullptr;
    try {
        toml::table tbl = toml::parse_file (path);
        doc = new rt_toml ();
        doc->strings.reserve (256);
        flattener f { doc, {} };
        f.walk (tbl, "");
        if (!f.error.empty ()) {
            std::snprintf (err, errlen, "%s:0:0: %s", path, f.error.c_str ());
            delete doc;
            return nullptr;
        }
        /*  Strings are stable now that no more are added: point at them. */
        for (auto &e : doc->entries) {
            if (e.kind == RT_TOML_STRING)
                e.str = doc->strings[(size_t) e.i].c_str ();
            else if (e.kind == RT_TOML_STRING_ARRAY) {
                doc->arrays.emplace_back ();
                for (size_t j = 0; j < e.nstrs; j++)
                    doc->arrays.back ().push_back (doc->strings[(size_t) e.i + j].c_str ());
            }
        }
        size_t k = 0;
        for (auto &e : doc->entries)
            if (e.kind == RT_TOML_STRING_ARRAY)
                e.strs = doc->arrays[k++].data ();
        return doc;
    }
    catch (const toml::parse_error &pe) {
        std::snprintf (err, errlen, "%s:%u:%u: %.*s", path,
                       (unsigned) pe.source ().begin.line, (unsigned) pe.source ().begin.column,
                       (int) pe.description ().size (), pe.description ().data ());
    }
    catch (const std::exception &ex) {
        std::snprintf (err, errlen, "%s:0:0: %s", path, ex.what ());
    }
    delete doc;
    return nullptr;
}

extern "C" size_t
rt_toml_count (const rt_toml_t *self)
{
    return self->entries.size ();
}

extern "C" const rt_toml_entry_t *
rt_toml_at (const rt_toml_t *self, size_t i)
{
    return i < self->entries.size () ? &self->entries[i] : nullptr;
}

extern "C" void
rt_toml_destroy (rt_toml_t **p)
{
    if (!p || !*p)
        return;
    delete *p;
    *p = nullptr;
}
