// The API's answers the facility and order screens read, as the OpenAPI document gives
// them (FacilitySchema, FacilityProviderSchema, OrganizationComplianceSchema,
// ExpirationSchema, MemberSchema), and the permission groups that open their parts.

import { useEffect, useState } from "react";

import { call } from "../api";
import type { Me } from "../types";
import { label } from "../words";

// The API's permission groups (app/permissions.py), by the same names.
export const SEE_FACILITIES = ["manage-facilities", "update-facility-info", "manage-providers"];
export const RUN_FACILITIES = ["manage-facilities", "update-facility-info"];
export const SEE_PROVIDERS = ["manage-facilities", "manage-providers", "invite-providers"];
export const SEE_COMPLIANCE = ["view-analytics", "run-reports", "manage-providers", "view-represented-organizations"];
export const HANDLE_ORDERS = ["place-orders", "view-all-orders", "view-facility-orders"];

/** Whether the user holds any of the permissions (MSC admins hold every one). */
export function may(me: Me, anyOf: readonly string[]): boolean {
  return me.is_msc_admin || anyOf.some((permission) => me.permissions.includes(permission));
}

export interface Facility {
  id: string;
  organization_id: string;
  name: string;
  npi: string | null;
  ptan: string | null;
  facility_type: string;
  address: string | null;
  city: string | null;
  state: string;
  zip_code: string | null;
  phone: string | null;
  email: string | null;
  office_manager_id: string | null;
  mac_jurisdiction: string | null;
  place_of_service: string;
  active: boolean;
  created_at: string;
  updated_at: string;
}

// The API's `facility_type` codes, each with its name.
export const FACILITY_TYPES: Readonly<Record<string, string>> = {
  hospital: "Hospital",
  clinic: "Clinic",
  wound_center: "Wound center",
  snf: "Skilled nursing facility",
};

export function facilityType(code: string): string {
  return FACILITY_TYPES[code] ?? code;
}

// The CMS place-of-service codes a facility takes, with their names, as the API lists
// them (GET /api/v1/reference/places-of-service): read once, kept for the session.
let placesOfService: Promise<Record<string, string>> | null = null;

interface PlaceOfService {
  code: string;
  name: string;
}

/** The place-of-service names by code; empty until the API has answered (codes are then
 * shown alone). */
export function usePlacesOfService(): Readonly<Record<string, string>> {
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    let current = true;
    placesOfService ??= call<PlaceOfService[]>("GET", "/api/v1/reference/places-of-service")
      .then((listed) => Object.fromEntries(listed.map((place) => [place.code, place.name])))
      .catch(() => {
        // Asked again by the next screen that needs them.
        placesOfService = null;
        return {};
      });
    void placesOfService.then((found) => current && setNames(found));
    return () => {
      current = false;
    };
  }, []);
  return names;
}

export function placeOfService(code: string, names: Readonly<Record<string, string>>): string {
  const name = names[code];
  return name === undefined ? code : `${code} · ${name}`;
}

/** What the address shows: street, city, state and ZIP code, those given. */
export function addressOf(facility: Facility): string {
  const place = [facility.state, facility.zip_code].filter(Boolean).join(" ");
  return [facility.address, facility.city, place].filter(Boolean).join(", ");
}

export interface FacilityProvider {
  id: string;
  name: string;
  email: string;
  npi: string | null;
  phone: string | null;
  assignment_id: string;
  is_primary: boolean;
  status: string;
  start_date: string;
  end_date: string | null;
}

// What a provider's compliance is scored on and what expires (credential types), where the
// plain words of the API's code would misspell an abbreviation.
const ITEM_NAMES: Readonly<Record<string, string>> = {
  npi: "NPI",
  dea_registration: "DEA registration",
};

export function itemName(code: string): string {
  return ITEM_NAMES[code] ?? label(code);
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
  user_id: string;
  name: string;
  score: number;
  missing: string[];
  expired: string[];
  expiring: string[];
  unverified: string[];
  excluded: boolean;
  items: ComplianceItem[];
}

export interface OrganizationCompliance {
  organization_id: string;
  organization_ids: string[];
  score: number | null;
  training_completion_rate: number | null;
  document_score: number | null;
  providers: ProviderCompliance[];
}

export interface Expiration {
  kind: string;
  owner_id: string;
  owner_name: string;
  record_id: string;
  expiry_date: string;
  days_left: number;
}

export interface Member {
  id: string;
  organization_id: string;
  user_id: string;
  name: string;
  email: string;
  role: string;
  status: string;
}
