//! The OData `$filter` of a price query, built so that no value can change its meaning: every
//! value is a string literal with its single quotes doubled (OData's escape), values with
//! control characters or of absurd length are refused, and long SKU lists are cut into chunks
//! of [`MAX_SKUS_PER_REQUEST`] so each URL stays short (a few hundred characters).

use serde::{Deserialize, Serialize};

use super::PriceError;

/// The most SKU names one request filters on.
pub const MAX_SKUS_PER_REQUEST: usize = 20;

/// The longest value accepted in a filter.
const MAX_VALUE_CHARS: usize = 200;

/// What to price: one currency, region and service, one price type, some SKUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceQuery {
    /// ISO 4217 code (`USD`, `EUR`, …).
    pub currency: String,
    /// An ARM region name (`westeurope`); the API's values are case-sensitive.
    pub region: String,
    /// E.g. `Virtual Machines`, `Storage`.
    pub service_name: String,
    /// `armSkuName` values (`Standard_D2s_v3`); empty means every SKU of the service.
    pub arm_sku_names: Vec<String>,
    /// `Consumption` (pay as you go), `Reservation` or `DevTestConsumption`.
    pub price_type: String,
}

impl PriceQuery {
    /// A pay-as-you-go query (`priceType eq 'Consumption'`).
    pub fn consumption(
        currency: &str,
        region: &str,
        service_name: &str,
        arm_sku_names: Vec<String>,
    ) -> Self {
        Self {
            currency: currency.to_owned(),
            region: region.to_owned(),
            service_name: service_name.to_owned(),
            arm_sku_names,
            price_type: "Consumption".to_owned(),
        }
    }

    /// The currency code, checked (three ASCII letters) and upper-cased.
    pub fn currency_code(&self) -> Result<String, PriceError> {
        let code = self.currency.trim();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(PriceError::InvalidQuery(format!(
                "currency `{code}` is not an ISO 4217 code"
            )));
        }
        Ok(code.to_ascii_uppercase())
    }

    /// The `$filter` of each request: the region, service and price type, and up to
    /// [`MAX_SKUS_PER_REQUEST`] SKU names each (duplicates and blanks dropped, order kept).
    pub fn filters(&self) -> Result<Vec<String>, PriceError> {
        let base = format!(
            "armRegionName eq {} and serviceName eq {} and priceType eq {}",
            literal("region", &self.region)?,
            literal("service name", &self.service_name)?,
            literal("price type", &self.price_type)?,
        );
        let mut skus: Vec<&str> = Vec::new();
        for sku in self.arm_sku_names.iter().map(|s| s.trim()) {
            if !sku.is_empty() && !skus.contains(&sku) {
                skus.push(sku);
            }
        }
        if skus.is_empty() {
            return Ok(vec![base]);
        }
        skus.chunks(MAX_SKUS_PER_REQUEST)
            .map(|chunk| {
                let any = chunk
                    .iter()
                    .map(|sku| Ok(format!("armSkuName eq {}", literal("SKU name", sku)?)))
                    .collect::<Result<Vec<_>, PriceError>>()?;
                Ok(format!("{base} and ({})", any.join(" or ")))
            })
            .collect()
    }
}

/// `value` as an OData string literal: trimmed, in single quotes, each `'` doubled. Empty
/// values, control characters and values over 200 characters are refused (`what` names the
/// field in the error).
pub fn literal(what: &str, value: &str) -> Result<String, PriceError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(PriceError::InvalidQuery(format!("empty {what}")));
    }
    if value.chars().any(char::is_control) || value.chars().count() > MAX_VALUE_CHARS {
        return Err(PriceError::InvalidQuery(format!(
            "{what} has control characters or more than {MAX_VALUE_CHARS} characters"
        )));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(skus: &[&str]) -> PriceQuery {
        PriceQuery::consumption(
            "eur",
            "westeurope",
            "Virtual Machines",
            skus.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    #[test]
    fn the_filter_names_region_service_price_type_and_the_skus() {
        let filters = query(&["Standard_D2s_v3", "Standard_B2ms"])
            .filters()
            .unwrap();
        assert_eq!(
            filters,
            [
                "armRegionName eq 'westeurope' and serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and (armSkuName eq 'Standard_D2s_v3' or armSkuName eq 'Standard_B2ms')"
            ]
        );
        assert_eq!(
            query(&[]).filters().unwrap(),
            [
                "armRegionName eq 'westeurope' and serviceName eq 'Virtual Machines' and priceType eq 'Consumption'"
            ]
        );
    }

    #[test]
    fn single_quotes_are_doubled_so_a_value_cannot_end_its_literal() {
        let mut hostile = query(&["x' or armSkuName ne '"]);
        hostile.service_name = "Storage') or (1 eq 1".into();
        let filter = &hostile.filters().unwrap()[0];
        assert!(
            filter.contains("serviceName eq 'Storage'') or (1 eq 1'"),
            "{filter}"
        );
        assert!(
            filter.ends_with("(armSkuName eq 'x'' or armSkuName ne ''')"),
            "{filter}"
        );
        // Outside the literals only the builder's own words remain.
        let outside: String = filter.split('\'').step_by(2).collect();
        assert!(
            !outside.contains(" ne ") && !outside.contains("1 eq 1"),
            "{outside}"
        );
        assert_eq!(literal("x", "O'Brien").unwrap(), "'O''Brien'");
    }

    #[test]
    fn long_sku_lists_are_cut_into_chunks_of_twenty_without_duplicates() {
        let names: Vec<String> = (0..45).map(|n| format!("Standard_D{n}s_v5")).collect();
        let mut with_duplicates: Vec<&str> = names.iter().map(String::as_str).collect();
        with_duplicates.extend(["Standard_D0s_v5", " ", ""]);
        let filters = query(&with_duplicates).filters().unwrap();
        let counts: Vec<usize> = filters
            .iter()
            .map(|f| f.matches("armSkuName eq").count())
            .collect();
        assert_eq!(counts, [20, 20, 5]);
        assert!(filters.iter().all(|f| f.len() < 1200), "URLs stay short");
        assert!(filters[2].contains("'Standard_D44s_v5'"));
    }

    #[test]
    fn bad_values_and_currencies_are_refused() {
        let mut q = query(&["a"]);
        q.region = " ".into();
        assert!(q.filters().is_err());
        let mut q = query(&["a\u{0}b"]);
        assert!(q.filters().is_err());
        q = query(&[&"x".repeat(201)]);
        assert!(q.filters().is_err());
        assert_eq!(query(&[]).currency_code().unwrap(), "EUR");
        for bad in ["EU", "EURO", "E'R", "€UR"] {
            let mut q = query(&[]);
            q.currency = bad.into();
            assert!(q.currency_code().is_err(), "{bad}");
        }
    }
}
