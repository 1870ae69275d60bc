//! Behaviour of the whole engine through the [`SearchIndex`] trait.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

// Brands.
const NIKE: i64 = 10;
const CONVERSE: i64 = 11;
const BOSIDENG: i64 = 12;
const HUAWEI: i64 = 13;
const APPLE: i64 = 14;
// Audiences.
const MEN: i64 = 1;
const WOMEN: i64 = 2;
const KIDS: i64 = 3;
// Categories: 1 服饰鞋包 > 11 鞋靴 > {111 运动鞋, 112 休闲鞋}, 1 > 12 童装 > 121 童装外套;
// 2 数码 > 21 手机配件 > 211 手机壳, 2 > 22 耳机.

#[allow(clippy::too_many_arguments)]
fn product(
    id: i64,
    name: &str,
    brand: Option<(i64, &str)>,
    category_path: &[(i64, &str)],
    specs: &[&str],
    audiences: &[i64],
    prices: &[i64],
    sales: i64,
) -> ProductDoc {
    ProductDoc {
        id,
        name: name.into(),
        brand_id: brand.map(|b| b.0),
        brand_name: brand.map(|b| b.1.into()).unwrap_or_default(),
        category_id: category_path.last().map(|c| c.0),
        category_path_ids: category_path.iter().map(|c| c.0).collect(),
        category_names: category_path.iter().map(|c| c.1.into()).collect(),
        spec_values: specs.iter().map(|s| s.to_string()).collect(),
        audience_ids: audiences.to_vec(),
        sku_prices_fen: prices.to_vec(),
        in_stock: true,
        on_sale: true,
        sales,
        created_at: 1_700_000_000 + id * 1000,
        ..ProductDoc::default()
    }
}

fn catalog() -> Vec<ProductDoc> {
    let nike = Some((NIKE, "耐克"));
    let running = [(1, "服饰鞋包"), (11, "鞋靴"), (111, "运动鞋")];
    let kids_coats = [(1, "服饰鞋包"), (12, "童装"), (121, "童装外套")];
    vec![
        ProductDoc {
            subtitle: "NIKE 经典款 透气缓震".into(),
            description_text: "透气网面，缓震鞋底，适合日常训练。".into(),
            ..product(
                1,
                "男子轻便跑步运动鞋",
                nike,
                &running,
                &["黑", "白", "41码", "42码"],
                &[MEN],
                &[39_900, 42_900],
                120,
            )
        },
        product(
            2,
            "女子休闲帆布鞋",
            Some((CONVERSE, "Converse 匡威")),
            &[(1, "服饰鞋包"), (11, "鞋靴"), (112, "休闲鞋")],
            &["白", "36码", "37码"],
            &[WOMEN],
            &[19_900],
            300,
        ),
        ProductDoc {
            description_text: "90%白鸭绒，冬季保暖，连帽设计。".into(),
            ..product(
                3,
                "儿童加厚连帽羽绒服",
                Some((BOSIDENG, "波司登")),
                &kids_coats,
                &["红", "蓝", "110cm", "120cm"],
                &[KIDS],
                &[29_900, 32_900],
                80,
            )
        },
        ProductDoc {
            description_text: "支持快充，续航30小时。".into(),
            ..product(
                4,
                "无线蓝牙耳机 降噪运动款",
                Some((HUAWEI, "HUAWEI 华为")),
                &[(2, "数码"), (22, "耳机")],
                &["白", "黑"],
                &[],
                &[59_900],
                500,
            )
        },
        product(
            5,
            "iPhone 15 Pro 硅胶手机壳",
            Some((APPLE, "Apple 苹果")),
            &[(2, "数码"), (21, "手机配件"), (211, "手机壳")],
            &["透明", "黑"],
            &[],
            &[9_900],
            1000,
        ),
        ProductDoc {
            description_text: "适合跑步、健身等运动穿着。".into(),
            ..product(
                6,
                "纯棉中筒袜 5双装",
                None,
                &[],
                &[],
                &[MEN, WOMEN],
                &[2_900],
                50,
            )
        },
        ProductDoc {
            on_sale: false,
            ..product(
                7,
                "耐克 限量版篮球鞋",
                nike,
                &running,
                &["43码"],
                &[MEN],
                &[129_900],
                5,
            )
        },
        ProductDoc {
            in_stock: false,
            ..product(
                8,
                "耐克女款跑步运动鞋",
                nike,
                &running,
                &["37码"],
                &[WOMEN],
                &[35_900],
                20,
            )
        },
        product(
            9,
            "儿童羽绒背心",
            Some((BOSIDENG, "波司登")),
            &kids_coats,
            &[],
            &[KIDS],
            &[],
            0,
        ),
    ]
}

fn catalog_index() -> Arc<dyn SearchIndex> {
    let index = in_memory().unwrap();
    index.upsert(&catalog()).unwrap();
    index
}

fn query(keyword: &str) -> SearchQuery {
    SearchQuery {
        keyword: Some(keyword.into()),
        ..SearchQuery::default()
    }
}

fn ids(index: &dyn SearchIndex, q: &SearchQuery) -> Vec<i64> {
    index.search(q).unwrap().ids
}

fn sorted_ids(index: &dyn SearchIndex, q: &SearchQuery) -> Vec<i64> {
    let mut ids = ids(index, q);
    ids.sort_unstable();
    ids
}

fn find(index: &dyn SearchIndex, keyword: &str) -> Vec<i64> {
    sorted_ids(index, &query(keyword))
}

#[test]
fn chinese_words_match_as_people_type_them() {
    let index = catalog_index();
    let index = index.as_ref();
    assert_eq!(find(index, "运动鞋"), vec![1, 8]);
    assert_eq!(find(index, "跑步"), vec![1, 6, 8]);
    assert_eq!(find(index, "耐克 运动鞋"), vec![1, 8]);
    assert_eq!(find(index, "耐克跑步鞋"), vec![1, 8]);
    assert_eq!(find(index, "耐克"), vec![1, 8]);
    assert_eq!(find(index, "儿童 羽绒服"), vec![3]);
    assert_eq!(find(index, "儿童羽绒服"), vec![3]);
    assert_eq!(find(index, "羽绒"), vec![3, 9]);
    assert_eq!(find(index, "蓝牙耳机"), vec![4]);
    assert_eq!(find(index, "iphone 手机壳"), vec![5]);
    assert_eq!(find(index, "iPhone15"), vec![5]);
    assert_eq!(find(index, "42码"), vec![1]);
    // 3 and 9 by their category "服饰鞋包".
    assert_eq!(find(index, "鞋"), vec![1, 2, 3, 8, 9]);
    // Category names and spec values are searchable too.
    assert_eq!(find(index, "童装"), vec![3, 9]);
    assert_eq!(find(index, "透明"), vec![5]);
}

#[test]
fn excluded_products_are_in_no_hit_count_or_facet() {
    let index = catalog_index();
    let index = index.as_ref();
    let docs = catalog();
    for q in [query("鞋"), SearchQuery::default()] {
        let all = index.search(&q).unwrap();
        let excluded = SearchQuery {
            exclude_ids: vec![1, 3],
            ..q.clone()
        };
        let rest = index.search(&excluded).unwrap();
        let expected: Vec<i64> = all
            .ids
            .iter()
            .copied()
            .filter(|id| ![1, 3].contains(id))
            .collect();
        assert_eq!(rest.ids, expected);
        assert_eq!(rest.total, all.total - 2);
        assert_facets_add_up(index, &excluded, &docs);
    }
}

#[test]
fn keywords_that_match_nothing_return_nothing() {
    let index = catalog_index();
    let index = index.as_ref();
    for keyword in [
        "拖拉机",
        "耐克 羽绒服",
        "跑步 手机壳",
        "运动 鞋子",
        "xyz",
        "43码",
    ] {
        let result = index.search(&query(keyword)).unwrap();
        assert_eq!((result.total, result.ids), (0, vec![]), "{keyword}");
    }
}

#[test]
fn matching_ignores_case_and_width() {
    let index = catalog_index();
    let index = index.as_ref();
    for keyword in ["nike", "Nike", "ＮＩＫＥ", "NIKE 运动鞋"] {
        assert_eq!(find(index, keyword), vec![1], "{keyword}");
    }
    assert_eq!(find(index, "ｈｕａｗｅｉ"), vec![4]);
    assert_eq!(find(index, "４２码"), vec![1]);
    assert_eq!(find(index, "ＩＰＨＯＮＥ　手机壳"), vec![5]);
}

#[test]
fn name_matches_rank_above_description_matches() {
    let index = catalog_index();
    let ranked = ids(index.as_ref(), &query("跑步"));
    assert_eq!(ranked.len(), 3);
    assert_eq!(ranked[2], 6, "description-only match last: {ranked:?}");
}

#[test]
fn whole_words_rank_above_accidental_substrings() {
    let index = in_memory().unwrap();
    index
        .upsert(&[
            // "女装" only straddles 少女|装饰 here…
            product(2, "少女装饰发夹", None, &[], &[], &[], &[990], 0),
            // …and is a word here.
            product(1, "时尚女装外套", None, &[], &[], &[], &[990], 0),
        ])
        .unwrap();
    assert_eq!(ids(index.as_ref(), &query("女装")), vec![1, 2]);
}

#[test]
fn hostile_input_does_not_panic() {
    let index = catalog_index();
    let long = "耐克运动鞋".repeat(2_000);
    let inputs = [
        "\"耐克\"",
        "name:耐克",
        "(运动鞋",
        "[1 TO 2]",
        "{}",
        "a AND b OR NOT c",
        "*",
        "\\",
        "😀",
        "耐克😀运动鞋",
        "\0",
        "''",
        "-",
        "+运动鞋",
        "~2",
        "运动鞋^3",
        &long,
    ];
    for keyword in inputs {
        let q = SearchQuery {
            with_facets: true,
            ..query(keyword)
        };
        index.search(&q).unwrap();
        index.suggest(keyword, 5).unwrap();
    }
    // Only punctuation/emoji: nothing searchable, nothing found.
    assert_eq!(index.search(&query("😀 !!")).unwrap().total, 0);
    // Typed words without searchable text are ignored.
    assert_eq!(find(index.as_ref(), "耐克😀运动鞋"), vec![1, 8]);
    let q = SearchQuery {
        offset: usize::MAX,
        limit: usize::MAX,
        ..query("鞋")
    };
    assert_eq!(index.search(&q).unwrap().ids, Vec::<i64>::new());
}

#[test]
fn blank_keyword_means_no_keyword_filter() {
    let index = catalog_index();
    for keyword in [None, Some(""), Some("   "), Some("\u{3000}")] {
        let q = SearchQuery {
            keyword: keyword.map(String::from),
            ..SearchQuery::default()
        };
        let result = index.search(&q).unwrap();
        assert_eq!(result.total, 8, "{keyword:?}");
        // Relevance without keyword = newest first.
        assert_eq!(result.ids, vec![9, 8, 6, 5, 4, 3, 2, 1]);
    }
}

#[test]
fn filters() {
    let index = catalog_index();
    let index = index.as_ref();
    let all = SearchQuery::default;
    let cases: Vec<(SearchQuery, Vec<i64>)> = vec![
        (
            SearchQuery {
                include_unpublished: true,
                ..all()
            },
            (1..=9).collect(),
        ),
        (
            SearchQuery {
                category_id: Some(1),
                ..all()
            },
            vec![1, 2, 3, 8, 9],
        ),
        (
            SearchQuery {
                category_id: Some(11),
                ..all()
            },
            vec![1, 2, 8],
        ),
        (
            SearchQuery {
                category_id: Some(111),
                ..all()
            },
            vec![1, 8],
        ),
        (
            SearchQuery {
                category_id: Some(111),
                include_unpublished: true,
                ..all()
            },
            vec![1, 7, 8],
        ),
        (
            SearchQuery {
                brand_ids: vec![NIKE],
                ..all()
            },
            vec![1, 8],
        ),
        (
            SearchQuery {
                brand_ids: vec![NIKE, BOSIDENG],
                ..all()
            },
            vec![1, 3, 8, 9],
        ),
        (
            SearchQuery {
                audience_ids: vec![KIDS],
                ..all()
            },
            vec![3, 9],
        ),
        (
            SearchQuery {
                audience_ids: vec![MEN, KIDS],
                ..all()
            },
            vec![1, 3, 6, 9],
        ),
        // Any SKU price in range: 1 has 39900, 3 has 32900, 8 has 35900.
        (
            SearchQuery {
                price_min_fen: Some(30_000),
                price_max_fen: Some(40_000),
                ..all()
            },
            vec![1, 3, 8],
        ),
        (
            SearchQuery {
                price_min_fen: Some(42_900),
                price_max_fen: Some(42_900),
                ..all()
            },
            vec![1],
        ),
        (
            SearchQuery {
                price_min_fen: Some(50_000),
                ..all()
            },
            vec![4],
        ),
        (
            SearchQuery {
                price_max_fen: Some(10_000),
                ..all()
            },
            vec![5, 6],
        ),
        (
            SearchQuery {
                price_min_fen: Some(40_000),
                price_max_fen: Some(30_000),
                ..all()
            },
            vec![],
        ),
        (
            SearchQuery {
                in_stock_only: true,
                category_id: Some(111),
                ..all()
            },
            vec![1],
        ),
        (
            SearchQuery {
                brand_ids: vec![NIKE],
                ..query("跑步")
            },
            vec![1, 8],
        ),
        (
            SearchQuery {
                audience_ids: vec![WOMEN],
                ..query("跑步")
            },
            vec![6, 8],
        ),
    ];
    for (q, expected) in cases {
        assert_eq!(sorted_ids(index, &q), expected, "{q:?}");
        assert_eq!(index.search(&q).unwrap().total, expected.len() as u64);
    }
}

#[test]
fn sorting_and_paging() {
    let index = catalog_index();
    let index = index.as_ref();
    let sorted = |sort| {
        ids(
            index,
            &SearchQuery {
                sort,
                ..SearchQuery::default()
            },
        )
    };
    // 9 has no SKU: last both ways.
    assert_eq!(sorted(SearchSort::PriceAsc), vec![6, 5, 2, 3, 8, 1, 4, 9]);
    assert_eq!(sorted(SearchSort::PriceDesc), vec![4, 1, 8, 3, 2, 5, 6, 9]);
    assert_eq!(sorted(SearchSort::Sales), vec![5, 4, 2, 1, 3, 6, 8, 9]);
    assert_eq!(sorted(SearchSort::Newest), vec![9, 8, 6, 5, 4, 3, 2, 1]);

    let page = index
        .search(&SearchQuery {
            offset: 2,
            limit: 3,
            sort: SearchSort::Newest,
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!((page.total, page.ids), (8, vec![6, 5, 4]));
    let past_end = SearchQuery {
        offset: 7,
        limit: 5,
        ..SearchQuery::default()
    };
    assert_eq!(ids(index, &past_end), vec![1]);
    let keyword_sorted = SearchQuery {
        sort: SearchSort::PriceAsc,
        ..query("跑步")
    };
    assert_eq!(ids(index, &keyword_sorted), vec![6, 8, 1]);
}

#[test]
fn ties_break_by_id_descending() {
    let index = in_memory().unwrap();
    let docs: Vec<ProductDoc> = (1..=6)
        .map(|id| ProductDoc {
            created_at: 100,
            ..product(id, "同款保温杯", None, &[], &[], &[], &[1_000], 7)
        })
        .collect();
    index.upsert(&docs).unwrap();
    for sort in [
        SearchSort::Relevance,
        SearchSort::PriceAsc,
        SearchSort::PriceDesc,
        SearchSort::Sales,
        SearchSort::Newest,
    ] {
        for keyword in [None, Some("保温杯".to_string())] {
            let q = SearchQuery {
                sort,
                keyword: keyword.clone(),
                ..SearchQuery::default()
            };
            assert_eq!(
                ids(index.as_ref(), &q),
                vec![6, 5, 4, 3, 2, 1],
                "{sort:?} {keyword:?}"
            );
            let page = SearchQuery {
                offset: 2,
                limit: 2,
                ..q
            };
            assert_eq!(ids(index.as_ref(), &page), vec![4, 3]);
        }
    }
}

fn assert_facets_add_up(index: &dyn SearchIndex, q: &SearchQuery, docs: &[ProductDoc]) {
    let q = SearchQuery {
        with_facets: true,
        limit: 1,
        ..q.clone()
    };
    let result = index.search(&q).unwrap();
    let facets = result.facets.expect("facets requested");
    let all = SearchQuery {
        limit: usize::MAX,
        with_facets: false,
        ..q
    };
    let matched: Vec<&ProductDoc> = index
        .search(&all)
        .unwrap()
        .ids
        .iter()
        .map(|id| docs.iter().find(|d| d.id == *id).unwrap())
        .collect();
    assert_eq!(matched.len() as u64, result.total);
    let sum = |counts: &[(i64, u64)]| counts.iter().map(|c| c.1).sum::<u64>();
    let with_category = matched.iter().filter(|d| d.category_id.is_some()).count() as u64;
    let with_brand = matched.iter().filter(|d| d.brand_id.is_some()).count() as u64;
    assert_eq!(sum(&facets.categories), with_category);
    assert_eq!(sum(&facets.brands), with_brand);
    let buckets: u64 = facets.price_buckets.iter().map(|b| b.count).sum();
    assert_eq!(buckets, result.total);
    assert_eq!(facets.price_buckets.len(), 6);
    let audiences: u64 = matched.iter().map(|d| d.audience_ids.len() as u64).sum();
    assert_eq!(sum(&facets.audiences), audiences);
}

#[test]
fn facets_cover_all_matches_and_add_up() {
    let docs = catalog();
    let index = catalog_index();
    let index = index.as_ref();
    let q = SearchQuery {
        with_facets: true,
        limit: 2,
        ..SearchQuery::default()
    };
    let result = index.search(&q).unwrap();
    assert_eq!(result.ids.len(), 2);
    let facets = result.facets.unwrap();
    assert_eq!(
        facets.brands,
        vec![
            (NIKE, 2),
            (BOSIDENG, 2),
            (CONVERSE, 1),
            (HUAWEI, 1),
            (APPLE, 1)
        ]
    );
    assert_eq!(
        facets.categories,
        vec![(111, 2), (121, 2), (22, 1), (112, 1), (211, 1)]
    );
    assert_eq!(facets.audiences, vec![(WOMEN, 3), (MEN, 2), (KIDS, 2)]);
    let counts: Vec<u64> = facets.price_buckets.iter().map(|b| b.count).collect();
    // <50 yuan: 6 and 9 (no SKU); 50–100: 5; 100–200: 2; 200–500: 3, 8, 1; 500–1000: 4.
    assert_eq!(counts, vec![2, 1, 1, 3, 1, 0]);
    assert_eq!(
        facets.price_buckets[0],
        PriceBucket {
            min_fen: 0,
            max_fen: Some(5_000),
            count: 2
        }
    );
    assert_eq!(facets.price_buckets[5].max_fen, None);

    for q in [
        SearchQuery::default(),
        SearchQuery {
            include_unpublished: true,
            ..SearchQuery::default()
        },
        query("跑步"),
        query("鞋"),
        SearchQuery {
            category_id: Some(1),
            ..SearchQuery::default()
        },
        query("拖拉机"),
    ] {
        assert_facets_add_up(index, &q, &docs);
    }
    assert!(index.search(&query("鞋")).unwrap().facets.is_none());
}

/// Keywords are cut with the words the index holds, learnt again after every write: a word of
/// a product indexed after the last search splits a typed run, so its parts match apart.
#[test]
fn keywords_are_cut_with_the_words_indexed_so_far() {
    let index = in_memory().unwrap();
    index
        .upsert(&[product(1, "夏季帽子", None, &[], &[], &[], &[9_900], 0)])
        .unwrap();
    assert_eq!(find(index.as_ref(), "红色连衣裙"), Vec::<i64>::new());
    index
        .upsert(&[product(
            2,
            "蓝色连衣裙 红色腰带",
            None,
            &[],
            &[],
            &[],
            &[19_900],
            0,
        )])
        .unwrap();
    // 红色 and 连衣裙 are words now: each must occur, not the run as one substring.
    assert_eq!(find(index.as_ref(), "红色连衣裙"), vec![2]);
    assert_eq!(find(index.as_ref(), "红色 连衣裙"), vec![2]);
    // Characters the index knows no word of still have to occur side by side.
    assert_eq!(find(index.as_ref(), "色连"), vec![2]);
    assert_eq!(find(index.as_ref(), "红连"), Vec::<i64>::new());
}

#[test]
fn upsert_replaces_and_delete_removes() {
    let index = catalog_index();
    let mut current = catalog();
    assert_eq!(index.doc_count().unwrap(), 9);
    current[4].name = "华为 Mate 60 手机壳".into();
    index.upsert(&current[4..5]).unwrap();
    assert_eq!(index.doc_count().unwrap(), 9);
    assert_eq!(find(index.as_ref(), "iphone"), Vec::<i64>::new());
    assert_eq!(find(index.as_ref(), "mate"), vec![5]);

    // Taking a product off sale hides it from consumers and from suggestions.
    current[2].on_sale = false;
    index.upsert(&current[2..3]).unwrap();
    assert_eq!(find(index.as_ref(), "羽绒服"), Vec::<i64>::new());
    assert!(index.suggest("儿童加厚", 5).unwrap().is_empty());

    index.delete(&[1, 8, 12345]).unwrap();
    current.retain(|d| d.id != 1 && d.id != 8);
    assert_eq!(index.doc_count().unwrap(), 7);
    assert_eq!(find(index.as_ref(), "运动鞋"), Vec::<i64>::new());
    assert_eq!(index.suggest("耐克", 5).unwrap(), Vec::<String>::new());

    // Replaced and deleted versions are not counted.
    for q in [
        SearchQuery::default(),
        SearchQuery {
            include_unpublished: true,
            ..SearchQuery::default()
        },
    ] {
        assert_facets_add_up(index.as_ref(), &q, &current);
    }
}

#[test]
fn rebuild_replaces_everything() {
    let index = catalog_index();
    let mut first = catalog()[0].clone();
    first.name = "旧名字".into();
    let mut docs = vec![first, catalog()[0].clone(), catalog()[1].clone()].into_iter();
    index.rebuild(&mut docs).unwrap();
    assert_eq!(index.doc_count().unwrap(), 2);
    // Repeated ids keep their last version.
    assert_eq!(find(index.as_ref(), "旧名字"), Vec::<i64>::new());
    assert_eq!(find(index.as_ref(), "鞋"), vec![1, 2]);
    assert_eq!(index.suggest("儿童", 5).unwrap(), Vec::<String>::new());
    index.rebuild(&mut std::iter::empty()).unwrap();
    assert_eq!(index.doc_count().unwrap(), 0);
    assert_eq!(
        index
            .search(&SearchQuery {
                with_facets: true,
                ..SearchQuery::default()
            })
            .unwrap()
            .total,
        0
    );
}

#[test]
fn suggestions_from_on_sale_names_and_brands() {
    let index = catalog_index();
    assert_eq!(
        index.suggest("耐", 5).unwrap(),
        vec!["耐克", "耐克女款跑步运动鞋"]
    );
    assert_eq!(index.suggest("耐克", 1).unwrap(), vec!["耐克"]);
    // Contains, for Chinese typed mid-word.
    assert_eq!(
        index.suggest("运动", 5).unwrap(),
        vec![
            "无线蓝牙耳机 降噪运动款",
            "男子轻便跑步运动鞋",
            "耐克女款跑步运动鞋"
        ]
    );
    assert_eq!(index.suggest("ｈｕａ", 5).unwrap(), vec!["HUAWEI 华为"]);
    assert_eq!(
        index.suggest("iphone 1", 5).unwrap(),
        vec!["iPhone 15 Pro 硅胶手机壳"]
    );
    assert!(index.suggest("限量版", 5).unwrap().is_empty());
}

#[test]
fn meta_round_trips() {
    let index = catalog_index();
    assert_eq!(index.meta().unwrap(), None);
    index.set_meta("{\"last_event\":41,\"schema\":1}").unwrap();
    index.set_meta("{\"last_event\":42,\"schema\":1}").unwrap();
    index.upsert(&catalog()[..1]).unwrap();
    assert_eq!(
        index.meta().unwrap().as_deref(),
        Some("{\"last_event\":42,\"schema\":1}")
    );
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "distmall-search-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn persists_on_disk() {
    let dir = TempDir::new();
    {
        let (index, needs_rebuild) = open_or_create(dir.path()).unwrap();
        assert!(needs_rebuild);
        index.upsert(&catalog()[..2]).unwrap();
        index.set_meta("event 7").unwrap();
    }
    {
        // Upserts alone do not make a complete index.
        let (index, needs_rebuild) = open_or_create(dir.path()).unwrap();
        assert!(needs_rebuild);
        assert_eq!(index.meta().unwrap().as_deref(), Some("event 7"));
        index.rebuild(&mut catalog().into_iter()).unwrap();
    }
    let (index, needs_rebuild) = open_or_create(dir.path()).unwrap();
    assert!(!needs_rebuild);
    assert_eq!(index.doc_count().unwrap(), 9);
    assert_eq!(index.meta().unwrap().as_deref(), Some("event 7"));
    assert_eq!(find(index.as_ref(), "运动鞋"), vec![1, 8]);
    // Suggestions are reloaded from the stored index.
    assert_eq!(
        index.suggest("耐", 5).unwrap(),
        vec!["耐克", "耐克女款跑步运动鞋"]
    );
}

#[test]
fn incompatible_index_is_discarded() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path()).unwrap();
    let old_segment = {
        let mut builder = tantivy::schema::Schema::builder();
        let title = builder.add_text_field("title", tantivy::schema::TEXT);
        let old = tantivy::Index::create_in_dir(dir.path(), builder.build()).unwrap();
        let mut writer: tantivy::IndexWriter = old.writer(15_000_000).unwrap();
        writer.add_document(tantivy::doc!(title => "old")).unwrap();
        writer.commit().unwrap();
        old.searchable_segment_ids().unwrap()[0].uuid_string()
    };
    let (index, needs_rebuild) = open_or_create(dir.path()).unwrap();
    assert!(needs_rebuild);
    assert_eq!(index.doc_count().unwrap(), 0);
    index.rebuild(&mut catalog().into_iter()).unwrap();
    assert_eq!(find(index.as_ref(), "运动鞋"), vec![1, 8]);
    // The old segment's files were garbage-collected by that commit.
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(&old_segment)
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn searches_run_while_writing() {
    let index = catalog_index();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let index = &index;
            scope.spawn(move || {
                for _ in 0..200 {
                    let q = SearchQuery {
                        with_facets: true,
                        ..query("运动鞋")
                    };
                    let result = index.search(&q).unwrap();
                    // Product 1 and 8 are rewritten, never removed.
                    assert_eq!(result.total, 2);
                    assert!(!index.suggest("耐", 5).unwrap().is_empty());
                }
            });
        }
        for round in 0..20 {
            let mut docs = catalog();
            docs[0].sales = round;
            index.upsert(&docs[..1]).unwrap();
            index.upsert(&docs[7..8]).unwrap();
        }
    });
    assert_eq!(index.doc_count().unwrap(), 9);
}

/// Deterministic pseudo-random catalog of `n` products.
fn generated_catalog(n: i64) -> Vec<ProductDoc> {
    const BRANDS: [&str; 8] = [
        "耐克",
        "阿迪达斯",
        "李宁",
        "安踏",
        "Apple 苹果",
        "HUAWEI 华为",
        "小米",
        "波司登",
    ];
    const ADJECTIVES: [&str; 10] = [
        "男子", "女子", "儿童", "轻便", "加厚", "透气", "无线", "防水", "纯棉", "新款",
    ];
    const NOUNS: [&str; 10] = [
        "跑步鞋",
        "运动鞋",
        "羽绒服",
        "蓝牙耳机",
        "手机壳",
        "连衣裙",
        "卫衣",
        "双肩包",
        "保温杯",
        "充电宝",
    ];
    const PHRASES: [&str; 8] = [
        "采用优质面料，柔软舒适，",
        "经典设计，百搭时尚，",
        "适合日常通勤与户外运动，",
        "支持七天无理由退换，",
        "多色可选，尺码齐全，",
        "品质保证，官方正品，",
        "轻盈耐磨，久穿不累，",
        "冬季保暖，防风防寒，",
    ];
    let mut seed: u64 = 42;
    let mut next = move |bound: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % bound
    };
    (1..=n)
        .map(|id| {
            let brand = next(BRANDS.len());
            let noun = NOUNS[next(NOUNS.len())];
            let name = format!(
                "{}{}{} {}",
                ADJECTIVES[next(10)],
                ADJECTIVES[next(10)],
                noun,
                id % 97
            );
            let description: String = (0..12).map(|_| PHRASES[next(PHRASES.len())]).collect();
            let category = 100 + next(20) as i64;
            let prices: Vec<i64> = (0..1 + next(4))
                .map(|_| 500 + next(150_000) as i64)
                .collect();
            ProductDoc {
                id,
                name,
                subtitle: format!("{}正品 限时特惠", BRANDS[brand]),
                brand_id: (next(10) > 0).then_some(brand as i64),
                brand_name: BRANDS[brand].into(),
                category_id: Some(category),
                category_path_ids: vec![category / 10, category],
                category_names: vec!["服饰".into(), noun.into()],
                description_text: description,
                spec_values: vec!["红".into(), "蓝".into(), format!("{}码", 36 + next(10))],
                audience_ids: (0..next(3) as i64).collect(),
                sku_prices_fen: prices,
                in_stock: next(10) > 0,
                on_sale: next(20) > 0,
                sales: next(10_000) as i64,
                created_at: 1_700_000_000 + next(10_000_000) as i64,
            }
        })
        .collect()
}

#[test]
fn rebuild_generated_catalog() {
    let docs = generated_catalog(2_000);
    let index = in_memory().unwrap();
    index.rebuild(&mut docs.clone().into_iter()).unwrap();
    assert_eq!(index.doc_count().unwrap(), 2_000);
    let on_sale = docs.iter().filter(|d| d.on_sale).count() as u64;
    assert_eq!(
        index.search(&SearchQuery::default()).unwrap().total,
        on_sale
    );
    for keyword in ["运动鞋", "耐克 跑步鞋", "蓝牙耳机", "儿童 羽绒服", "42码"] {
        let q = SearchQuery {
            with_facets: true,
            ..query(keyword)
        };
        let result = index.search(&q).unwrap();
        assert!(result.total > 0, "{keyword}");
        assert_facets_add_up(index.as_ref(), &q, &docs);
    }
    let filtered = SearchQuery {
        category_id: Some(10),
        price_min_fen: Some(10_000),
        price_max_fen: Some(50_000),
        in_stock_only: true,
        ..query("鞋")
    };
    assert_facets_add_up(index.as_ref(), &filtered, &docs);
}
