// The API's answers the provider's own screens read, as the OpenAPI document gives them.

/** PUT /api/v1/me's body and answer; GET /api/v1/me gives the same fields. */
export interface Profile {
  name: string;
  email: string;
  phone: string | null;
  npi: string | null;
  date_of_birth: string | null;
}

export interface NpiVerification {
  npi: string;
  npi_verification: string;
  npi_verified_at: string | null;
  reason: string | null;
}

export interface Credential {
  id: string;
  credential_type: string;
  number: string | null;
  state: string | null;
  issuer: string | null;
  specialty: string | null;
  dea_schedules: string[] | null;
  coverage_per_claim: string | null;
  coverage_aggregate: string | null;
  effective_date: string | null;
  expiry_date: string | null;
  status: string;
  days_left: number | null;
  rejection_reason: string | null;
}

export interface ComplianceItem {
  item: string;
  weight: number;
  share: number;
  state: string;
  expiry_date: string | null;
  days_left: number | null;
  expiring_within: number | null;
  required_states: string[];
  missing_states: string[];
}

export interface ProviderCompliance {
  score: number;
  excluded: boolean;
  missing: string[];
  expired: string[];
  expiring: string[];
  unverified: string[];
  items: ComplianceItem[];
}

export interface ChecklistItem {
  item: string;
  complete: boolean;
  detail: string | null;
}

export interface Checklist {
  percent_complete: number;
  items: ChecklistItem[];
}

export interface Assignment {
  id: string;
  organization_id: string;
  organization_name: string;
  facility_id: string;
  facility_name: string;
  is_primary: boolean;
  status: string;
  start_date: string;
  end_date: string | null;
}

export interface ProviderDocument {
  id: string;
  credential_id: string | null;
  document_type: string;
  filename: string;
  content_type: string;
  size_bytes: number;
  expiry_date: string | null;
  created_at: string;
}
